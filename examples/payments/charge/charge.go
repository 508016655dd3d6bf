// Package charge is the operator of the payments example: it charges each
// order once through the job's "payments" endpoint, however often the job
// crashes and replays it.
//
// An input record's key is the customer and its value a JSON object with the
// fields "order" and "amountCents" (the file source's jsonl lines). The
// operator sends {"order": ORDER, "amountCents": AMOUNT} with the order id as
// the idempotency key (abi/ABI.md §5.3) and emits, under the customer,
// "ORDER charged RECEIPT" (HTTP 200), "ORDER declined" (402) or
// "ORDER rejected STATUS" (any other answer). An amount of 0 or less fails
// the record with status 400 before any call. No answer at all (a time-out, a
// 5xx) fails the record, so the job's onFailure policy retries it with the
// same idempotency key.
package charge

import (
	"encoding/json"
	"fmt"

	weir "github.com/weirstream/weir/sdk/go"
)

// Endpoint is the name the job spec gives the payment service.
const Endpoint = "payments"

// Request is what the payment service receives.
type Request struct {
	Order       string `json:"order"`
	AmountCents int64  `json:"amountCents"`
}

// Operator charges orders; its input must be keyed (by customer).
var Operator = weir.Operator{
	Process: func(ctx *weir.Context, r weir.Record) error {
		var in Request
		if err := json.Unmarshal(r.Value, &in); err != nil || in.Order == "" {
			return weir.Errorf(400, "record %q is not an order with \"order\" and \"amountCents\"", r.Value)
		}
		if in.AmountCents <= 0 {
			return weir.Errorf(400, "order %s: amountCents %d is not a charge (want > 0)", in.Order, in.AmountCents)
		}
		req, err := json.Marshal(in)
		if err != nil {
			return err
		}
		order := in.Order
		resp, err := ctx.Call(Endpoint, req, []byte(order))
		if err != nil {
			return fmt.Errorf("charge %s: %w", order, err)
		}
		var out []byte
		switch resp.Status {
		case 200:
			out = fmt.Appendf(nil, "%s charged %s", order, resp.Body)
		case 402:
			out = fmt.Appendf(nil, "%s declined", order)
		default:
			out = fmt.Appendf(nil, "%s rejected %d", order, resp.Status)
		}
		ctx.Emit(weir.Record{Key: r.Key, Value: out, Timestamp: r.Timestamp})
		return nil
	},
}
