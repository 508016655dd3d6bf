// Command caller is the operator of the journaled-call tests: for every
// record (from the datagen source, whose values start with a 20-digit index
// i) it calls the endpoint named by its config (a JSON string; default
// "orders") with the record's value as the request and "order-i" as the
// idempotency key, and emits "i STATUS BODY" under the record's key.
package main

import (
	"encoding/json"
	"fmt"

	weir "github.com/weirstream/weir/sdk/go"
)

var endpoint = "orders"

func init() {
	weir.Serve(weir.Operator{
		Init: func(config []byte) error {
			if len(config) == 0 {
				return nil
			}
			return json.Unmarshal(config, &endpoint)
		},
		Process: func(ctx *weir.Context, r weir.Record) error {
			if len(r.Value) < 20 {
				return fmt.Errorf("value %q does not start with a 20-digit index", r.Value)
			}
			index := r.Value[:20]
			resp, err := ctx.Call(endpoint, r.Value, append([]byte("order-"), index...))
			if err != nil {
				return err
			}
			ctx.Emit(weir.Record{Key: r.Key, Value: fmt.Appendf(nil, "%s %d %s", index, resp.Status, resp.Body), Timestamp: r.Timestamp})
			return nil
		},
	})
}

func main() {}
