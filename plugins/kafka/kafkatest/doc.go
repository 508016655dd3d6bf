// Package kafkatest starts a real single-node Apache Kafka broker in KRaft
// mode for tests: the jars that scripts/install-kafka.sh caches from Maven
// Central, run as a child JVM (`java -cp 'libs/*' kafka.Kafka`) on free
// loopback ports with a temporary log directory that survives Stop and
// Restart, so tests can take the broker down in the middle of a job and bring
// it back. Without the jars a test skips, saying how to install them, unless
// WEIR_REQUIRE_KAFKA is set (CI sets it), when it fails instead.
package kafkatest
