// Command vcount is the versioned keyed counter of the server tests: for each
// record it counts the records of its key and emits
// "v<version>:<count*factor>:<value>". version and factor are set at build
// time, so each build is a distinct module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared \
//	    -ldflags "-X main.version=2 -X main.factor=10" -o vcount2.wasm .
package main

import (
	"strconv"

	weir "github.com/weirstream/weir/sdk/go"
)

var (
	version = "1"
	factor  = "1"
)

var counts = weir.NewValueState("count", weir.Int64)

func init() {
	f, _ := strconv.ParseInt(factor, 10, 64)
	weir.Serve(weir.Operator{Process: func(ctx *weir.Context, r weir.Record) error {
		n, _, err := counts.Get(ctx)
		if err != nil {
			return err
		}
		n++
		if err := counts.Set(ctx, n); err != nil {
			return err
		}
		out := make([]byte, 0, 64)
		out = append(out, 'v')
		out = append(out, version...)
		out = append(out, ':')
		out = strconv.AppendInt(out, n*f, 10)
		out = append(out, ':')
		out = append(out, r.Value...)
		ctx.Emit(weir.Record{Key: r.Key, Value: out})
		return nil
	}})
}

func main() {}
