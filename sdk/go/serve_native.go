//go:build !wasip1

package weir

import "unsafe"

// Serve installs op as the operator of a Wasm module; call it from the init
// function of the module's main package. In a build for any other target than
// wasip1 it does nothing, so that the same main package compiles (and vets)
// everywhere: run an operator in-process with NewNative instead.
func Serve(op Operator) {}

// wasmBuild is false outside the Wasm build: every host call goes through the
// instance's hostABI.
const wasmBuild = false

// wasmStateGet stands for the state_get import of the Wasm build, so that the
// core compiles in both; instance.directCalls, which guards every call of it,
// is never set in a native build.
func wasmStateGet(entry uint32, name unsafe.Pointer, nameLen uint32, userKey unsafe.Pointer, userKeyLen uint32, out unsafe.Pointer, outCap uint32) int64 {
	panic("weir: Wasm host call in a native build")
}

// wasmStatePut stands for the state_put import; see wasmStateGet.
func wasmStatePut(entry uint32, name unsafe.Pointer, nameLen uint32, userKey unsafe.Pointer, userKeyLen uint32, value unsafe.Pointer, valueLen uint32) uint32 {
	panic("weir: Wasm host call in a native build")
}

// wasmStateDelete stands for the state_delete import; see wasmStateGet.
func wasmStateDelete(entry uint32, name unsafe.Pointer, nameLen uint32, userKey unsafe.Pointer, userKeyLen uint32) uint32 {
	panic("weir: Wasm host call in a native build")
}

// wasmTimerSet stands for the timer_set import; see wasmStateGet.
func wasmTimerSet(entry uint32, kind uint32, time int64) uint32 {
	panic("weir: Wasm host call in a native build")
}

// wasmTimerDelete stands for the timer_delete import; see wasmStateGet.
func wasmTimerDelete(entry uint32, kind uint32, time int64) uint32 {
	panic("weir: Wasm host call in a native build")
}

func ptr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

func size(b []byte) uint32 { return uint32(len(b)) }
