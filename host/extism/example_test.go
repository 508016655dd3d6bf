package extism_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/host/extism"
	"github.com/weirstream/weir/internal/wasmbuild"
	"github.com/weirstream/weir/runtime"
)

// printEnv is a runtime.Env that prints emitted records and allows nothing else.
type printEnv struct{}

func (printEnv) StateGet(uint32, []byte, []byte) ([]byte, uint32) { return nil, uint32(abi.NotAllowed) }
func (printEnv) StatePut(uint32, []byte, []byte, []byte) uint32   { return uint32(abi.NotAllowed) }
func (printEnv) StateDelete(uint32, []byte, []byte) uint32        { return uint32(abi.NotAllowed) }
func (printEnv) StateClear(uint32, []byte) uint32                 { return uint32(abi.NotAllowed) }
func (printEnv) TimerSet(uint32, uint32, int64) uint32            { return uint32(abi.NotAllowed) }
func (printEnv) TimerDelete(uint32, uint32, int64) uint32         { return uint32(abi.NotAllowed) }
func (printEnv) Log(int32, []byte)                                {}
func (printEnv) Call(uint32, []byte, []byte, []byte) ([]byte, uint32) {
	return nil, uint32(abi.NotFound)
}
func (printEnv) StateScan(uint32, []byte, []byte, func(userKey, value []byte) bool) uint32 {
	return uint32(abi.NotAllowed)
}

func (printEnv) Emit(port uint32, batch []byte) uint32 {
	for r := abi.NewReader(batch); r.Next(); {
		fmt.Printf("port %d: %s=%s\n", port, r.Entry().Key, r.Entry().Value)
	}
	return 0
}

func ExampleLoad() {
	ctx := context.Background()
	// The upper plugin is written against github.com/extism/go-pdk and built
	// with the standard Go toolchain (GOOS=wasip1 GOARCH=wasm, c-shared).
	path, err := wasmbuild.GoModule("testdata/plugins", "./upper")
	if err != nil {
		log.Fatal(err)
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	plugin, err := extism.Load(ctx, "upper.wasm", wasm, extism.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer plugin.Close(ctx)
	op, err := plugin.NewOperator(ctx, runtime.OperatorInfo{Name: "upper"})
	if err != nil {
		log.Fatal(err)
	}
	defer op.Close()

	var w abi.Writer
	w.Reset()
	w.Append(abi.Entry{Key: []byte("user-1"), Value: []byte("clicked"), Timestamp: 1000})
	w.Append(abi.Entry{Key: []byte("user-2"), Value: []byte("scrolled"), Timestamp: 2000})
	if err := op.Process(ctx, w.Bytes(), printEnv{}); err != nil {
		log.Fatal(err)
	}
	// Output:
	// port 0: USER-1=CLICKED
	// port 0: USER-2=SCROLLED
}
