// Package runningsum is the keyed reference operator of the behaviour vectors:
// each record's value is a decimal int64 (ASCII, optional leading '-'); the
// operator adds it to a per-key sum kept in a value state and emits the key
// with the new sum, in decimal, inheriting timestamp and tracking id. A value
// that is not a decimal int64 fails the batch with status code 101.
package runningsum

import (
	"strconv"

	weir "github.com/weirstream/weir/sdk/go"
)

// CodeBadValue is the status code of a record whose value is not a number.
const CodeBadValue weir.Code = 101

var sum = weir.NewValueState("sum", weir.Int64)

// Operator is the runningsum operator.
var Operator = weir.Operator{Process: process}

func process(ctx *weir.Context, r weir.Record) error {
	n, err := strconv.ParseInt(string(r.Value), 10, 64)
	if err != nil {
		return weir.Errorf(CodeBadValue, "runningsum: value %q is not a decimal int64", r.Value)
	}
	s, _, err := sum.Get(ctx)
	if err != nil {
		return err
	}
	s += n
	if err := sum.Set(ctx, s); err != nil {
		return err
	}
	ctx.Emit(weir.Record{Key: r.Key, Value: strconv.AppendInt(nil, s, 10)})
	return nil
}
