// Package extism runs Extism plugins (https://extism.org) as Weir operators,
// on extism/go-sdk. A plugin built with any Extism PDK (Go, Rust, C#,
// JavaScript, Zig, ...) can be a stateless map, filter or flat-map operator,
// and, through Weir's host functions, a stateful one. docs/extism.md is the
// plugin author's side of the convention; this is the host's.
//
// # The convention
//
// [Load] compiles a plugin and returns a [Plugin], the
// runtime.OperatorFactory of one operator. Its operators call one export of
// the plugin, Options.Function (default [DefaultFunction],
// "weir_process_batch"), once per batch, never once per record: a call into
// an Extism plugin costs tens of microseconds. The call's Extism input is the
// batch exactly as the runtime hands it over, in the Weir batch encoding of
// abi/ABI.md §4 (records, and timers for a stateful plugin); the call's
// output, if not empty, is a batch of records in the same encoding, which
// goes to output port 0 after abi.Validate. Side outputs go through the
// weir_v1_emit host function.
//
// The host functions, in Extism's user namespace [HostModule], are ABI §5
// recast in Extism's terms: every parameter and result is an i64; byte
// strings (state names, keys, values, batches, messages) are Extism memory
// blocks, offset 0 being the empty block; a result is a status code, or a
// block offset where a negative result is -code. Keyed state and timers are
// scoped to an entry of the current batch, as in ABI §5: the plugin names the
// entry, the host derives the key, and the calls go to the runtime.Env of the
// call. They are weir_v1_state_get, _put, _delete, _clear and _scan,
// weir_v1_timer_set and _delete, weir_v1_emit, weir_v1_cursor (which entry
// the plugin is working on, for error reports) and weir_v1_log.
//
// Load rejects, with a *host.ModuleError listing every problem, a module that
// lacks the function or gives it another type than () -> i32, imports a host
// function Weir does not offer or with another signature, imports WASI
// sockets, or imports from modules other than extism:host/env,
// extism:host/user and wasi_snapshot_preview1.
//
// # Limits, failures and determinism
//
// Options.Limits are the host's [host.Limits], with the same defaults and
// meaning: memory (every linear memory of an instance: the plugin's, and the
// Extism kernel's, which holds the input, the output and the memory blocks),
// call time, emitted bytes per call, key and value sizes, log output per
// call. The call time limit uses wazero's WithCloseOnContextDone (the go-sdk
// instantiates the module, so the host's own instrumentation, which needs the
// instance's interrupt global, cannot be used): wazero checks at every loop
// header, exiting to Go, and closes the instance once the call's context has
// ended. NB: unlike the native host, which also checks at function entries,
// this does not stop a plugin that runs for ever through calls alone, without
// a loop (f(n) calling f(n-1) twice).
//
// Failures are *runtime.OperatorError values naming the operator and, where
// known, the entry (the one named by weir_v1_cursor, or by the host function
// that failed): a trap (a Go panic, an out-of-memory abort, a refused HTTP
// request, a var_set), a time-out, a non-zero status, an error the plugin set
// (Extism's error_set; a status of 100..65535 is kept as the operator's own
// code), a rejected emit or output, and INTERNAL from the Env. A trap or a
// time-out discards the instance; the next Process makes a fresh one. A
// non-zero status keeps it. Cancelling the caller's context stops the call
// too, with an error that wraps the cause.
//
// An instance has WASI without arguments, environment variables, preopened
// directories or sockets, with wazero's deterministic clocks and random
// source; the Extism manifest allows no HTTP host and no path, and disables
// Extism vars (state kept there would escape checkpoints). The operator's
// JSON configuration becomes the plugin's Extism config (pdk.GetConfig).
//
// # Cost
//
// The Extism kernel keeps the input and output in a memory of its own, and
// PDKs copy them in and out eight bytes per host call (input_load_u64,
// store_u64), so the Extism path costs microseconds per record where the
// native Weir ABI costs tens of nanoseconds; see BenchmarkStateless and
// docs/extism.md. Use it to bring existing Extism plugins and PDK languages
// to Weir; write hot operators against the Weir ABI.
package extism
