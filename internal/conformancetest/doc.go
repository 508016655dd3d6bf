// Package conformancetest is the conformance suite every guest SDK must pass:
// the same operators, written in each guest language, run through the real
// host (package host) and engine (package runtime) on the same inputs, and
// must behave the same, byte for byte. It has only tests and benchmarks.
//
// # The table
//
// guests_test.go holds the suite's table: (language, guest) -> builder, a
// function that builds the guest from source and returns its .wasm file.
// Languages today are Go (standard toolchain, GOOS=wasip1; wasmbuild.Go), C
// (clang for wasm32 against sdk/c/weir.h; wasmbuild.C) and Rust (Debian's
// rustc for wasm32-unknown-unknown against sdk/rust; wasmbuild.Rust, wired
// in by rustbuild_test.go). The first language of the list, Go, is the
// reference the others are compared with. A builder skips its test, with the
// reason, when its language cannot be built in this tree yet (a Rust row
// before wasmbuild.Rust existed), and fails it when the build fails: a
// missing toolchain is a failure that says to run `make toolchains`, never a
// silent pass. TestGuestTable checks that every language has a row for every
// guest.
//
// # What a new SDK must provide
//
// To join the suite (C# is next), an SDK adds one row per guest below, its
// builder (a wasmbuild function), and these guests, each a Weir ABI v1
// module (abi/ABI.md):
//
// The six reference operators of abi/testdata/operators, as specified in
// its README.md: upper (stateless map), runningsum (keyed value state),
// tumblecount (event-time tumbling windows, timers, late records to port 1),
// timers (event- and processing-time timers set and deleted on command),
// sideoutput (ports 0..255, explicit timestamps and tracking ids) and call
// (the journaled external call of ABI §5.3: the harness checks each request
// and idempotency key an endpoint receives, and that a journaled response is
// replayed, also after a restart, without a second call). They must
// keep the cursor of ABI §4.4, so that a failing batch names its entry. Where
// the specification leaves a choice, they do what the Go reference does:
// sideoutput's header values "0" keep the record's own timestamp and
// tracking id (the Go SDK reads 0 as "inherit"), a runningsum overflow wraps
// around, and numbers are parsed as Go's strconv.ParseInt/ParseUint do, base
// 10 (an optional sign for signed values, ASCII digits only).
//
// Five cases that misbehave on purpose. Each emits every record unchanged to
// port 0, except a record whose key is "poison" (and, for oob, also
// "poison-emit"); they run on a keyed input under a memory limit of 64 MiB:
//
//   - poison: panics (traps) on "poison". The host must fail the batch at
//     that entry, with its key and tracking id, and run the next batch on a
//     fresh instance.
//   - oom: allocates 1 GiB on "poison" and writes to it. The allocation must
//     fail under the memory limit, the guest die, and a fresh instance take
//     over.
//   - oob: on "poison", calls state_get (name, then out), state_put (user
//     key, then value: a pointer in memory with length 0xffffff00),
//     state_delete (user key), state_clear (name) and state_scan (start,
//     then out) with one pointer/length pair out of range each, the others
//     valid (state name "s"; out of range is 0xfffffff0 with length 32), then
//     log and set_error with an out-of-range message, and emits the key, the
//     record's timestamp and tracking id, no headers, and the value
//     "state_get_name=-3 state_get_out=-3 state_put_key=3 state_put_value=3
//     state_delete_key=3 state_clear_name=3 state_scan_start=-3
//     state_scan_out=-3" (each result in decimal, in that order; the host
//     must answer OUT_OF_BOUNDS to each and change nothing); on
//     "poison-emit" it calls emit with a batch out of range and returns 0,
//     and the host must fail the batch with OUT_OF_BOUNDS anyway (ABI §8).
//   - status42: returns status 42, which ABI v1 does not define, on
//     "poison". The host must report "unknown status code 42" at that entry.
//   - abiv2: exports weir_v2_reserve and weir_v2_process instead of the v1
//     names. The host must refuse to load it, naming the module and ABI v2.
//
// # The tests
//
//   - TestWasmVectors runs each vector of abi/testdata/operators against each
//     language's build of its operator, in the real host, driven by the Go
//     SDK's weirtest harness (whose in-memory host stands in for the
//     runtime's Env), checks every step against the vector, and checks that
//     every language emitted exactly the entries (header, key, value,
//     headers, timestamp, tracking id: the encoded bytes) that Go emitted, at
//     every step.
//   - TestEngineOutputsIdentical runs each reference operator in a job
//     through the engine (a memory source, parallel subtasks on keyBy or
//     rebalance edges, a checkpoint every 20 ms, watermarks moving between
//     source batches, a sink per output port that records the bytes of what
//     it commits) once per language, and checks that every language commits
//     exactly the entries Go commits.
//   - TestBadGuests runs the five cases of each language.
//   - csdk_test.go checks the C SDK's helpers (numbers against strconv, the
//     allocator, state reads that grow, state_scan, mid-batch flushes, ports,
//     configuration) through sdk/c/testdata/sdkguest.c; guest_test.go and
//     fastpath_test.go check the Go SDK's Wasm build (a panic at the cursor's
//     entry, state_scan chunking, no allocation and one host call per state
//     access); rust_test.go checks that the Go and Rust SDKs store the same
//     state bytes.
//
// The benchmarks measure guests per batch in the real host with a minimal
// Env: the Go SDK's costs (sdkbench_test.go), and the same operators across
// languages and natively (langbench_test.go).
package conformancetest
