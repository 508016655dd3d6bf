// Package natstest runs a real NATS server with JetStream in the test process
// (the nats-server Go module, nothing to install), on a free loopback port
// with a temporary store directory, for the tests of the nats connector, of
// the HTTP ingest source and of the crash tests in cmd/weir.
package natstest
