// Package split is the first operator of the orders example: it splits an
// order into its line items, each a charge for the payments example's
// charge operator, keyed by customer.
//
// An input record's value is a JSON order, {"order": ID, "customer": NAME,
// "items": [{"sku": SKU, "qty": N, "cents": PRICE}, ...]}; item i becomes
// {"order": "ID/i", "amountCents": N*PRICE} under key NAME. The items carry
// the order's tracking id (the SDK's Emit inherits it), so the order's
// status (docs/acks.md) lists the items that failed downstream.
package split

import (
	"encoding/json"
	"fmt"

	"github.com/weirstream/weir/examples/payments/charge"
	weir "github.com/weirstream/weir/sdk/go"
)

// Order is an input record.
type Order struct {
	Order    string `json:"order"`
	Customer string `json:"customer"`
	Items    []Item `json:"items"`
}

// Item is a line item of an order.
type Item struct {
	SKU   string `json:"sku"`
	Qty   int64  `json:"qty"`
	Cents int64  `json:"cents"`
}

// Operator splits orders; a record that is not an order fails with status
// 400 (the job's onFailure policy decides what becomes of it).
var Operator = weir.Operator{
	Process: func(ctx *weir.Context, r weir.Record) error {
		var o Order
		if err := json.Unmarshal(r.Value, &o); err != nil || o.Order == "" || o.Customer == "" || len(o.Items) == 0 {
			return weir.Errorf(400, "record %q is not an order with \"order\", \"customer\" and \"items\"", r.Value)
		}
		for i, it := range o.Items {
			v, err := json.Marshal(charge.Request{Order: fmt.Sprintf("%s/%d", o.Order, i), AmountCents: it.Qty * it.Cents})
			if err != nil {
				return err
			}
			ctx.Emit(weir.Record{Key: []byte(o.Customer), Value: v, Timestamp: r.Timestamp})
		}
		return nil
	},
}
