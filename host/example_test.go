package host_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/host"
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

func ExampleEngine_Load() {
	ctx := context.Background()
	path, err := wasmbuild.Go("testdata/guests/echo")
	if err != nil {
		log.Fatal(err)
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	engine, err := host.NewEngine(ctx, host.Config{CacheDir: filepath.Join(os.TempDir(), "weir-example-cache")})
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close(ctx)
	module, err := engine.Load(ctx, "echo", wasm, host.Limits{MemoryBytes: 64 << 20})
	if err != nil {
		log.Fatal(err)
	}
	op, err := module.NewOperator(ctx, runtime.OperatorInfo{Name: "echo"})
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
	// port 0: user-1=clicked
	// port 0: user-2=scrolled
}
