// Package native runs the native build of a Go SDK operator in-process: the
// same operator source that compiles to a Wasm module, called as plain Go
// through weir.Native, behind the runtime's Operator interface.
//
// It is what tests use to run an SDK operator in a job without compiling it
// to Wasm, and it is the performance ceiling that the Wasm build is measured
// against: the two share the SDK's core (batch decoding, dispatch, emit
// buffers, state encoding), so the difference between them is the cost of the
// sandbox. A native operator is not sandboxed: it has no memory or call-time
// limit and can reach anything the process can, so only trusted code runs
// this way.
//
//	job.Operators = append(job.Operators, &runtime.OperatorNode{
//		Name:    "count",
//		Factory: native.Factory(wordcount.Count),
//		Inputs:  []runtime.Input{{From: "split", Partition: runtime.KeyBy}},
//	})
//
// weir.NativeHost has exactly the method set of runtime.Env (checked at
// compile time in this package), so the runtime's Env is handed to the
// operator as it is.
package native
