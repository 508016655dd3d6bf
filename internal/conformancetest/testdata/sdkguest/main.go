// Command sdkguest is a Wasm test guest of the Go SDK for conformancetest: its
// commands exercise what the behaviour vectors do not (a panic's trap and
// cursor, state_scan chunking and buffer growth through the real host).
package main

import (
	"bytes"
	"fmt"

	weir "github.com/weirstream/weir/sdk/go"
)

var big = weir.NewMapState("big", weir.Uint64, weir.Bytes)

func process(ctx *weir.Context, r weir.Record) error {
	switch string(r.Value) {
	case "panic":
		panic("guest panics on purpose")
	case "fill":
		for i := range 300 {
			v := bytes.Repeat([]byte{byte(i)}, 1000)
			if i == 150 {
				v = bytes.Repeat([]byte{'L'}, 300_000)
			}
			if err := big.Put(ctx, uint64(i), v); err != nil {
				return err
			}
		}
		return nil
	case "range":
		n, total, next := 0, 0, uint64(0)
		err := big.Range(ctx, func(k uint64, v []byte) bool {
			if k != next {
				return false
			}
			n, total, next = n+1, total+len(v), next+1
			return true
		})
		ctx.Emit(weir.Record{Value: fmt.Appendf(nil, "%d pairs, %d bytes", n, total)})
		return err
	}
	ctx.Emit(r)
	return nil
}

func init() { weir.Serve(weir.Operator{Process: process}) }

func main() {}
