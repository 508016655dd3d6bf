package weir

import (
	"encoding/binary"
	"fmt"
)

// Keyed state. A state handle is declared once, as a package-level value, and
// makes no host call until it is used:
//
//	var count = weir.NewValueState("count", weir.Int64)
//
// Every method takes the Context of the entry being processed and reads or
// writes the state of that entry's key only (ABI §5, §6): an operator cannot
// reach the state of another key. Handles are immutable, so one handle serves
// every instance of the operator concurrently; the buffers a call needs belong
// to the instance.
//
// Each handle owns the state name it is given (1 to 255 bytes): two handles of
// one operator must not share a name. The constructors panic on an invalid
// name, a programming error found when the package is initialised.

func stateName(kind, name string) []byte {
	if len(name) == 0 || len(name) > MaxStateNameBytes {
		panic(fmt.Sprintf("weir: %s name %q: a state name is 1 to %d bytes", kind, name, MaxStateNameBytes))
	}
	return []byte(name)
}

func codecError(kind string, name []byte, err error) error {
	return fmt.Errorf("weir: %s %q: %w", kind, name, err)
}

// ValueState is one value of type T per key: the user key of length 0 of its
// state name (ABI §5.2).
//
// A Get is one state_get host call and a Set one state_put, whatever the
// codec, as long as the value fits the instance's state_get buffer (4 KiB at
// first; it grows to the largest value read, up to 1 MiB). The SDK's 8-byte
// codecs (Int64, Uint64, Float64) are encoded inline, without a Codec call.
type ValueState[T any] struct {
	name  []byte
	codec Codec[T]
	fixed fixedCodec // which 8-byte SDK codec codec is, if any
}

// NewValueState declares a value state named name whose values codec encodes.
func NewValueState[T any](name string, codec Codec[T]) *ValueState[T] {
	return newValueState("value state", name, codec)
}

func newValueState[T any](kind, name string, codec Codec[T]) *ValueState[T] {
	return &ValueState[T]{name: stateName(kind, name), codec: codec, fixed: fixedCodecOf(codec)}
}

// Name returns the state name.
func (s *ValueState[T]) Name() string { return string(s.name) }

// Get returns the current key's value; ok is false if it has none.
func (s *ValueState[T]) Get(ctx *Context) (v T, ok bool, err error) {
	// NB: this is instance.stateGet by hand, so that a Get is one function
	// call (and the host call) in the Wasm build.
	in := ctx.in
	out := in.state.get
	var n int64
	if wasmBuild && in.directCalls {
		n = wasmStateGet(ctx.entry, ptr(s.name), size(s.name), nil, 0, ptr(out), size(out))
	} else {
		n = in.host.stateGet(ctx.entry, s.name, nil, out)
	}
	var b []byte
	if uint64(n) <= uint64(len(out)) {
		b = out[:n]
	} else if b, ok, err = in.stateGetAgain(ctx, s.name, nil, n); !ok {
		return v, false, err
	}
	if s.fixed != notFixed && len(b) == 8 {
		return decodeFixed[T](s.fixed, binary.BigEndian.Uint64(b)), true, nil
	}
	if v, err = s.codec.Decode(b); err != nil {
		return v, false, codecError("value state", s.name, err)
	}
	return v, true, nil
}

// Set stores v as the current key's value.
func (s *ValueState[T]) Set(ctx *Context, v T) error {
	in := ctx.in
	sc := &in.state
	var b []byte
	if s.fixed != notFixed {
		b = sc.putFixed(encodeFixed(s.fixed, v))
	} else {
		var err error
		if b, err = s.codec.Append(sc.value[:0], v); err != nil {
			return codecError("value state", s.name, err)
		}
		sc.value = b
	}
	var code Code
	if wasmBuild && in.directCalls {
		code = Code(wasmStatePut(ctx.entry, ptr(s.name), size(s.name), nil, 0, ptr(b), size(b)))
	} else {
		code = in.host.statePut(ctx.entry, s.name, nil, b)
	}
	if code != OK {
		return in.hostFailed(code, "state_put", s.name)
	}
	return nil
}

// Clear removes the current key's value.
func (s *ValueState[T]) Clear(ctx *Context) error {
	return ctx.in.stateDelete(ctx, s.name, nil)
}

// MapState is a sorted map from K to V per key: each entry is one user key of
// its state name. Range visits entries in the byte order of the encoded keys,
// so use an order-preserving key codec (Int64, Uint64, Float64, String) when
// the order matters.
type MapState[K, V any] struct {
	name  []byte
	key   Codec[K]
	value Codec[V]
}

// NewMapState declares a map state named name; keyCodec encodes its keys (each
// at most MaxKeyBytes) and valueCodec its values.
func NewMapState[K, V any](name string, keyCodec Codec[K], valueCodec Codec[V]) *MapState[K, V] {
	return &MapState[K, V]{name: stateName("map state", name), key: keyCodec, value: valueCodec}
}

// Name returns the state name.
func (s *MapState[K, V]) Name() string { return string(s.name) }

func (s *MapState[K, V]) userKey(ctx *Context, k K) ([]byte, error) {
	sc := &ctx.in.state
	b, err := s.key.Append(sc.userKey[:0], k)
	if err != nil {
		return nil, codecError("map state key", s.name, err)
	}
	sc.userKey = b
	return b, nil
}

// Get returns the value at k for the current key; ok is false if there is none.
func (s *MapState[K, V]) Get(ctx *Context, k K) (v V, ok bool, err error) {
	uk, err := s.userKey(ctx, k)
	if err != nil {
		return v, false, err
	}
	b, found, err := ctx.in.stateGet(ctx, s.name, uk)
	if err != nil || !found {
		return v, false, err
	}
	if v, err = s.value.Decode(b); err != nil {
		return v, false, codecError("map state", s.name, err)
	}
	return v, true, nil
}

// Put stores v at k for the current key.
func (s *MapState[K, V]) Put(ctx *Context, k K, v V) error {
	uk, err := s.userKey(ctx, k)
	if err != nil {
		return err
	}
	sc := &ctx.in.state
	b, err := s.value.Append(sc.value[:0], v)
	if err != nil {
		return codecError("map state", s.name, err)
	}
	sc.value = b
	return ctx.in.statePut(ctx, s.name, uk, b)
}

// Delete removes k for the current key; removing an absent key is not an
// error.
func (s *MapState[K, V]) Delete(ctx *Context, k K) error {
	uk, err := s.userKey(ctx, k)
	if err != nil {
		return err
	}
	return ctx.in.stateDelete(ctx, s.name, uk)
}

// Range calls fn for each entry of the current key in ascending order of the
// encoded keys, until fn returns false. fn may read and write state,
// including this map: entries already visited are not revisited, and entries
// put ahead of the current position may or may not be visited.
func (s *MapState[K, V]) Range(ctx *Context, fn func(k K, v V) bool) error {
	return ctx.in.stateScan(ctx, s.name, nil, func(uk, b []byte) (bool, error) {
		k, err := s.key.Decode(uk)
		if err != nil {
			return false, codecError("map state key", s.name, err)
		}
		v, err := s.value.Decode(b)
		if err != nil {
			return false, codecError("map state", s.name, err)
		}
		return fn(k, v), nil
	})
}

// Clear removes every entry of the current key.
func (s *MapState[K, V]) Clear(ctx *Context) error { return ctx.in.stateClear(ctx, s.name) }

// ListState is a list of T per key with O(1) Add. It is laid out as a map
// state: the length (8 bytes, big-endian) at the user key of length 0 and
// element i at the 8-byte big-endian user key i, so that a scan returns the
// elements in order.
type ListState[T any] struct {
	name  []byte
	codec Codec[T]
}

// NewListState declares a list state named name whose elements codec encodes.
func NewListState[T any](name string, codec Codec[T]) *ListState[T] {
	return &ListState[T]{name: stateName("list state", name), codec: codec}
}

// Name returns the state name.
func (s *ListState[T]) Name() string { return string(s.name) }

// Len returns the length of the current key's list.
func (s *ListState[T]) Len(ctx *Context) (int, error) {
	b, found, err := ctx.in.stateGet(ctx, s.name, nil)
	if err != nil || !found {
		return 0, err
	}
	if len(b) != 8 {
		return 0, codecError("list state", s.name, fmt.Errorf("length of %d bytes, want 8", len(b)))
	}
	return int(binary.BigEndian.Uint64(b)), nil
}

// Add appends v to the current key's list: one state read and two writes,
// whatever the length.
func (s *ListState[T]) Add(ctx *Context, v T) error {
	n, err := s.Len(ctx)
	if err != nil {
		return err
	}
	if err := s.put(ctx, n, v); err != nil {
		return err
	}
	return s.setLen(ctx, n+1)
}

func (s *ListState[T]) put(ctx *Context, i int, v T) error {
	sc := &ctx.in.state
	b, err := s.codec.Append(sc.value[:0], v)
	if err != nil {
		return codecError("list state", s.name, err)
	}
	sc.value = b
	sc.userKey = binary.BigEndian.AppendUint64(sc.userKey[:0], uint64(i))
	return ctx.in.statePut(ctx, s.name, sc.userKey, b)
}

func (s *ListState[T]) setLen(ctx *Context, n int) error {
	sc := &ctx.in.state
	sc.value = binary.BigEndian.AppendUint64(sc.value[:0], uint64(n))
	return ctx.in.statePut(ctx, s.name, nil, sc.value)
}

// Range calls fn with each element of the current key's list and its index,
// in order, until fn returns false.
func (s *ListState[T]) Range(ctx *Context, fn func(i int, v T) bool) error {
	var first [8]byte
	return ctx.in.stateScan(ctx, s.name, first[:], func(uk, b []byte) (bool, error) {
		if len(uk) != 8 {
			return false, codecError("list state", s.name, fmt.Errorf("element key of %d bytes, want 8", len(uk)))
		}
		v, err := s.codec.Decode(b)
		if err != nil {
			return false, codecError("list state", s.name, err)
		}
		return fn(int(binary.BigEndian.Uint64(uk)), v), nil
	})
}

// Get returns the current key's list (nil if it is empty).
func (s *ListState[T]) Get(ctx *Context) ([]T, error) {
	var out []T
	err := s.Range(ctx, func(_ int, v T) bool {
		out = append(out, v)
		return true
	})
	return out, err
}

// Update replaces the current key's list with vs.
func (s *ListState[T]) Update(ctx *Context, vs []T) error {
	if err := s.Clear(ctx); err != nil {
		return err
	}
	for i, v := range vs {
		if err := s.put(ctx, i, v); err != nil {
			return err
		}
	}
	if len(vs) == 0 {
		return nil
	}
	return s.setLen(ctx, len(vs))
}

// Clear empties the current key's list.
func (s *ListState[T]) Clear(ctx *Context) error { return ctx.in.stateClear(ctx, s.name) }

// ReducingState keeps one value of type T per key that folds every added value
// in with a reduce function: after Add(a) and Add(b) it holds reduce(a, b).
type ReducingState[T any] struct {
	v      *ValueState[T]
	reduce func(acc, v T) T
}

// NewReducingState declares a reducing state named name; reduce must not be nil.
func NewReducingState[T any](name string, codec Codec[T], reduce func(acc, v T) T) *ReducingState[T] {
	if reduce == nil {
		panic(fmt.Sprintf("weir: reducing state %q: nil reduce function", name))
	}
	return &ReducingState[T]{v: newValueState("reducing state", name, codec), reduce: reduce}
}

// Name returns the state name.
func (s *ReducingState[T]) Name() string { return string(s.v.name) }

// Add folds v into the current key's value (or stores v if there is none).
func (s *ReducingState[T]) Add(ctx *Context, v T) error {
	acc, ok, err := s.v.Get(ctx)
	if err != nil {
		return err
	}
	if ok {
		v = s.reduce(acc, v)
	}
	return s.v.Set(ctx, v)
}

// Get returns the current key's value; ok is false if nothing was added.
func (s *ReducingState[T]) Get(ctx *Context) (v T, ok bool, err error) { return s.v.Get(ctx) }

// Clear removes the current key's value.
func (s *ReducingState[T]) Clear(ctx *Context) error { return s.v.Clear(ctx) }

// AggregateFunc aggregates values of type IN into an accumulator of type ACC
// and reads a result of type OUT from it, as Flink's AggregateFunction does.
type AggregateFunc[IN, ACC, OUT any] struct {
	// Create returns a new, empty accumulator; nil means the zero ACC.
	Create func() ACC
	// Add folds in into acc and returns the new accumulator. Required.
	Add func(acc ACC, in IN) ACC
	// Result returns the aggregate of acc. Required.
	Result func(acc ACC) OUT
}

// AggregatingState keeps an accumulator per key, stored with its codec, that
// Add folds values into and Get reads the result of.
type AggregatingState[IN, ACC, OUT any] struct {
	acc *ValueState[ACC]
	f   AggregateFunc[IN, ACC, OUT]
}

// NewAggregatingState declares an aggregating state named name whose
// accumulator accCodec encodes.
func NewAggregatingState[IN, ACC, OUT any](name string, accCodec Codec[ACC], f AggregateFunc[IN, ACC, OUT]) *AggregatingState[IN, ACC, OUT] {
	if f.Add == nil || f.Result == nil {
		panic(fmt.Sprintf("weir: aggregating state %q: AggregateFunc needs Add and Result", name))
	}
	return &AggregatingState[IN, ACC, OUT]{acc: newValueState("aggregating state", name, accCodec), f: f}
}

// Name returns the state name.
func (s *AggregatingState[IN, ACC, OUT]) Name() string { return string(s.acc.name) }

// Add folds in into the current key's accumulator.
func (s *AggregatingState[IN, ACC, OUT]) Add(ctx *Context, in IN) error {
	acc, ok, err := s.acc.Get(ctx)
	if err != nil {
		return err
	}
	if !ok && s.f.Create != nil {
		acc = s.f.Create()
	}
	return s.acc.Set(ctx, s.f.Add(acc, in))
}

// Get returns the result of the current key's accumulator; ok is false if
// nothing was added.
func (s *AggregatingState[IN, ACC, OUT]) Get(ctx *Context) (out OUT, ok bool, err error) {
	acc, ok, err := s.acc.Get(ctx)
	if err != nil || !ok {
		return out, false, err
	}
	return s.f.Result(acc), true, nil
}

// Clear removes the current key's accumulator.
func (s *AggregatingState[IN, ACC, OUT]) Clear(ctx *Context) error { return s.acc.Clear(ctx) }
