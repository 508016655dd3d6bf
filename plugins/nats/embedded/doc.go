// Package embedded runs a NATS server with JetStream inside the Weir
// process (the nats-server Go module): the default broker of `weir server`
// for the HTTP ingest source, and the server of package natstest. It listens
// on loopback unless told otherwise and keeps its streams in a directory, so
// that they survive a restart of the process.
package embedded
