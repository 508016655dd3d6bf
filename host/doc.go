// Package host runs Weir operators that are WebAssembly modules, on wazero
// (compiler engine), behind the ABI of abi/ABI.md (version 1).
//
// # Engine, modules and operators
//
// An [Engine] compiles modules. [Engine.Load] checks a module before anything
// runs: it must be WebAssembly, import only the weir_v1 host functions with
// exactly the signatures of ABI.md §5 and the wasi_snapshot_preview1
// functions other than sock_*, and export memory, weir_v1_reserve and
// weir_v1_process (optionally weir_v1_init and _initialize) with the right
// signatures. A module built for another ABI version (imports from weir_vN or
// exports weir_vN_*) is rejected as such, and so is one that exports a name
// starting with "weir.", which the host reserves for what it adds (see below).
// The *[ModuleError] lists every problem at once.
//
// A [Module] is the runtime.OperatorFactory of one operator: NewOperator makes
// the instance of one subtask, and that instance is the runtime.Operator. Its
// Process writes the batch into the buffer the guest reserved (calling
// weir_v1_reserve only when the batch does not fit), calls weir_v1_process,
// and routes the guest's host function calls to the runtime.Env of the call.
// Every pointer and length a guest passes is checked against its memory
// (OUT_OF_BOUNDS), names, kinds and ports against ABI.md §5 (BAD_ARGUMENT),
// sizes against Limits (LIMIT_EXCEEDED), and every emitted batch with
// abi.Validate (MALFORMED); the host never reads or writes outside guest
// memory. A failure is a *runtime.OperatorError naming the entry the guest was
// working on (from the batch header's cursor, ABI.md §4.4), with its key,
// timestamp and tracking id.
//
// The call host function (ABI.md §5.3, since 1.1) checks the guest's
// pointers and sizes and hands the call to Env.Call, which journals it; the
// host stops the call time limit's clock while it waits there, since the
// endpoint's own time-out bounds the wait.
//
// # Limits
//
// [Limits] are per module: guest memory (default 256 MiB; memory.grow fails
// beyond it, and a Go guest then dies with "out of memory"), call time
// (default 10 s per call into the guest), emitted bytes per call (64 MiB),
// key and value sizes (ABI.md §9) and guest output per call (64 KiB of stdout,
// stderr and log; then one "output truncated" line). The call stack is
// wazero's limit. A call that traps after a memory.grow failed during it
// fails with [ErrGuestMemoryExhausted]: Load rewrites every memory.grow to
// record failures (see below).
//
// Each instance's memory is reserved as address space at its maximum (mmap
// with no access) and grown in place (mprotect), so growing never copies and
// a guest at its limit costs the host about the limit (wazero's default grew
// a Go slice by copying: 4 times the limit at peak). Before it is
// instantiated, each instance reserves that maximum of the Engine's
// [MemoryBudget], shared by every instance of the process: one that does not
// fit is refused with an [*ErrMemoryBudget]. [MemoryBudget.Usage] reports the
// memory of the live instances per operator. Because wazero sets the memory limit per runtime, the Engine
// keeps one wazero runtime per distinct memory limit; they share one
// compilation cache, kept on disk when Config.CacheDir is set so that a
// restart does not compile again.
//
// # Determinism
//
// A guest sees no arguments, no environment variables and no files (no
// preopened directories), and cannot import sockets. WASI clocks and random
// numbers are wazero's defaults, which are deterministic: the wall clock
// starts at 2022-01-01T00:00:00Z and the monotonic clock at 0, each advancing
// 1 ms per reading; sleeping returns at once; random_get reads a math/rand
// source with a fixed seed. So a fresh instance fed the same batches produces
// the same output (ABI.md §7). Processing time reaches a guest only through
// the batch header, which the runtime fills.
//
// # Failures and replacement
//
// A non-zero status from weir_v1_process fails the batch but keeps the
// instance: the guest reported an error and is in a state it controls. A trap
// (including a Go panic, which aborts the guest), an exit, a time-out or a
// cancelled caller context discards the instance: its memory may be
// inconsistent. The next Process instantiates the module afresh, runs
// _initialize and weir_v1_init again, and goes on. INTERNAL from the Env (a
// host failure such as a storage error) fails the call even if the guest
// ignores the code.
//
// # Call time limit
//
// Load rewrites every module before compiling it (epoch interruption, as
// Wasmtime does it; nothing is renumbered, each addition goes at the end of
// its index space). It adds an exported mutable global "weir.interrupt", a
// private "fuel" global and a small function $yield, and at the entry of every
// function and at the head of every loop (where every backward branch lands)
// it inserts a check that decrements the fuel and calls $yield when it reaches
// zero, once every 1024 checks. $yield refills the fuel, grows memory by zero
// pages, which wazero implements as an exit from the machine code to Go, and
// traps if the interrupt global is set. Per call, the host clears that global
// and arms a timer and a callback on the caller's context; either sets it to 1
// and the guest traps at its next visit to $yield, which Process reports as a
// time-out ("call exceeded the time limit of ...") or as the caller's
// cancellation. A start section becomes the export "weir.start", which the host
// calls after instantiation under the same limit; .debug_* sections are
// dropped (their code offsets would be wrong; the name section stays).
// Every "memory.grow 0" of the module becomes a call of an added function
// $grow that grows the memory and, when that fails, stores the pages asked
// for in the exported global "weir.grow_failed", which the host clears per
// call and reads when a call traps.
//
// The visits to Go matter as much as the flag: Go cannot preempt a goroutine
// that runs wazero's machine code, so a guest that never left it would block
// every stop-the-world of the garbage collector, and with it the timer meant
// to stop the guest. Checking function entries too catches guests that run
// for ever without a loop (f(n) calling f(n-1) twice).
//
// The timer and the context callback are reused across calls, so one may fire
// late; each decides, under a mutex, from the state of the call in progress
// (is there one, is its deadline past, is its context done), so a late one
// does nothing. A flag raised after the guest's last check does not fail a call
// that completed; the next call clears it.
//
// # Cost
//
// Each instance passes the guest one context, made when it is instantiated,
// that carries the instance: a host function finds its instance with one
// context lookup, and the call time limit is a timer reset per call, so a call
// allocates nothing of its own when the caller's context cannot be cancelled
// (two small allocations to watch one that can). In the guest, the time limit
// costs a decrement and a branch per loop iteration and function call, and an
// exit to Go every 1024 of them: within measurement noise of no check at all,
// where wazero's WithCloseOnContextDone (an indirect call into Go at every
// loop iteration, and a goroutine per call) made tight guest loops about 2.5
// times slower. Each batch a guest emits is validated with abi.Validate, a few
// nanoseconds per entry without headers. See BenchmarkProcessBatch,
// BenchmarkHostCall and BenchmarkValidate.
package host
