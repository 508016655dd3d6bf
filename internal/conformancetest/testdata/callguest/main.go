// Command callguest is a test guest of the conformance harness: the
// journaled external call of ABI §5.3 through the Go SDK and the real host,
// the same operator as sdk/rust/testdata/call.rs and sdk/c/testdata/call.c.
// A record's value is "ENDPOINT:REQUEST"; the guest calls ENDPOINT with
// REQUEST and the idempotency key "k-REQUEST", and emits "STATUS BODY", or
// "code N" when the call failed with code N.
package main

import (
	"bytes"
	"errors"
	"fmt"

	weir "github.com/weirstream/weir/sdk/go"
)

func init() {
	weir.Serve(weir.Operator{
		Process: func(ctx *weir.Context, r weir.Record) error {
			ep, req, _ := bytes.Cut(r.Value, []byte(":"))
			resp, err := ctx.Call(string(ep), req, append([]byte("k-"), req...))
			var out []byte
			var we *weir.Error
			switch {
			case errors.As(err, &we):
				out = fmt.Appendf(nil, "code %d", we.Code)
			case err != nil:
				return err
			default:
				out = fmt.Appendf(nil, "%d %s", resp.Status, resp.Body)
			}
			ctx.Emit(weir.Record{Key: r.Key, Value: out})
			return nil
		},
	})
}

func main() {}
