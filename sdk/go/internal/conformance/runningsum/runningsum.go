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
	n, ok := parseInt64(r.Value)
	if !ok {
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
	var buf [20]byte // Emit copies: no allocation per record
	ctx.Emit(weir.Record{Key: r.Key, Value: strconv.AppendInt(buf[:0], s, 10)})
	return nil
}

// parseInt64 parses b as strconv.ParseInt(string(b), 10, 64) does (an
// optional sign, then decimal digits, within the range of int64), without
// the string conversion, which allocates because ParseInt's error keeps it.
func parseInt64(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	const cutoff = 1 << 63 // the magnitude of math.MinInt64
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' || u > (cutoff-9)/10+1 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
		if u > cutoff {
			return 0, false
		}
	}
	switch {
	case neg:
		return -int64(u), true // -(1<<63) wraps to math.MinInt64, as it should
	case u == cutoff:
		return 0, false
	}
	return int64(u), true
}
