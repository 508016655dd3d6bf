// Package examples holds runnable Weir operators and job specs. Each example
// directory has operators written with the Go SDK (a library package, plus a
// wasm/ main package that builds it to a module), a job.yaml that runs them, and
// tests: native unit tests with sdk/go/weirtest, and the Wasm build run through
// the real host and engine.
//
//   - wordcount: split lines into words, count them per word (keyed state and
//     an end-of-input timer).
//   - windowcount: per-user event counts in one-minute tumbling event-time
//     windows over the deterministic generator.
//   - wordcount-rust, windowcount-rust: the same operators in Rust (sdk/rust);
//     wordcount-c: word count in C (sdk/c/weir.h). Their tests check the same
//     reference outputs as the Go examples.
//   - nexmark: the Nexmark queries (docs/nexmark.md), their reference results,
//     and the Flink implementation used for the side-by-side benchmark.
//   - postgres: a job spec only, copying one PostgreSQL table into another
//     with the postgres source and its exactly-once sink.
//   - payments: charge orders exactly once through an external payment
//     service that is not idempotent and fails now and then (the journaled
//     call host function, docs/calls.md), with a test service in paysvc.
//   - nats: a job spec only, copying a JetStream stream's orders to subjects
//     by customer with the nats source and its exactly-once sink.
//   - http-ingest: a job spec and a README with curl commands, records POSTed
//     to `weir server`'s ingest endpoint into an exactly-once file sink.
//   - orders: an order pipeline on `weir server`: orders POSTed to the HTTP
//     ingest, split into line items, each charged once through the payments
//     example's flaky service, a failed item in the DLQ, the request's
//     status (NACK of the failed order) and the fix by DLQ edit and
//     resubmit; run.sh runs it (docs/acks.md).
//   - rollouts: two versions of a keyed tally and run.sh, which rolls the
//     second out in a running `weir server` job: shadow, canary on 10 % of
//     the key groups, promote (docs/rollouts.md).
//
// Build the modules with `make wasm` and run one with
// `bin/weir run examples/wordcount/job.yaml`.
package examples
