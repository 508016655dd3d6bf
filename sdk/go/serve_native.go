//go:build !wasip1

package weir

// Serve installs op as the operator of a Wasm module; call it from the init
// function of the module's main package. In a build for any other target than
// wasip1 it does nothing, so that the same main package compiles (and vets)
// everywhere: run an operator in-process with NewNative instead.
func Serve(op Operator) {}
