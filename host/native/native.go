package native

import (
	"bytes"
	"context"
	"errors"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
	weir "github.com/weirstream/weir/sdk/go"
)

// The SDK declares the runtime's Env method set without importing the runtime;
// these make sure the two stay identical, in both directions.
var (
	_ weir.NativeHost = runtime.Env(nil)
	_ runtime.Env     = weir.NativeHost(nil)
)

// Factory returns an OperatorFactory whose instances run op natively: each
// subtask gets its own weir.Native, made with the operator's config (so Init
// runs once per subtask).
func Factory(op weir.Operator) runtime.OperatorFactory {
	return runtime.OperatorFactoryFunc(func(ctx context.Context, info runtime.OperatorInfo) (runtime.Operator, error) {
		n, err := weir.NewNative(op, info.Config)
		if err != nil {
			return nil, &runtime.OperatorError{Operator: info.Name, Subtask: info.Subtask, Entry: -1, Err: err}
		}
		return &operator{n: n, info: info}, nil
	})
}

// operator is one subtask of a native SDK operator.
type operator struct {
	n    *weir.Native
	info runtime.OperatorInfo
}

// Process runs batch through the operator. A failure is a
// *runtime.OperatorError with the failed entry's index, key, timestamp and
// tracking id when the SDK names the entry, and the status code the Wasm build
// would return (0 for a panic, which the Wasm build turns into a trap).
func (o *operator) Process(ctx context.Context, batch []byte, env runtime.Env) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := o.n.Process(batch, env)
	if err == nil {
		return nil
	}
	oe := &runtime.OperatorError{Operator: o.info.Name, Subtask: o.info.Subtask, Entry: -1, Err: err}
	var be *weir.BatchError
	if errors.As(err, &be) {
		// The OperatorError carries what the BatchError says; keep its cause.
		oe.Code, oe.Err = abi.Code(be.Code), be.Err
		if e, ok := abi.EntryAt(batch, be.Entry); ok && be.Entry >= 0 {
			oe.Entry = be.Entry
			// The batch is only valid during the call; the error outlives it.
			oe.Key = bytes.Clone(e.Key)
			oe.Timestamp = e.Timestamp
			oe.TrackingID = e.TrackingID
		}
	}
	return oe
}

// Close releases nothing: a native instance holds only memory.
func (o *operator) Close() error { return nil }
