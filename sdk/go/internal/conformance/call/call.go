// Package call is the reference operator of the behaviour vectors for the
// journaled external call (abi/ABI.md §5.3): a record's value is
// "ENDPOINT:REQUEST"; it calls ENDPOINT with REQUEST and the idempotency key
// "k-REQUEST", and emits the record's key with "STATUS BODY", or "code N"
// when the call failed with code N, with the timestamp and tracking id of
// the record.
package call

import (
	"bytes"
	"errors"
	"fmt"

	weir "github.com/weirstream/weir/sdk/go"
)

// Operator is the call operator.
var Operator = weir.Operator{Process: process}

func process(ctx *weir.Context, r weir.Record) error {
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
}
