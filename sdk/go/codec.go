package weir

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"unsafe"
)

// Codec turns values of type T into bytes and back, for state values, map
// user keys and window accumulators.
//
// Append appends the encoding of v to dst and returns the extended slice.
// Decode decodes src, which is valid during the call only: a Codec must copy
// what it keeps. Both must be safe for concurrent use (the SDK's codecs are
// stateless).
type Codec[T any] interface {
	Append(dst []byte, v T) ([]byte, error)
	Decode(src []byte) (T, error)
}

// The codecs of the SDK. The fixed-size ones preserve order: the byte order of
// two encodings is the order of the values, so they are the ones to use for
// the keys of a MapState whose Range order matters.
var (
	// Int64 encodes an int64 as 8 bytes, big-endian with the sign bit flipped,
	// so that negative numbers sort before positive ones.
	Int64 Codec[int64] = &int64Codec{}
	// Uint64 encodes a uint64 as 8 bytes, big-endian.
	Uint64 Codec[uint64] = &uint64Codec{}
	// Float64 encodes a float64 as 8 bytes that sort in numeric order: the
	// IEEE 754 bits, big-endian, with the sign bit flipped for positive numbers
	// and every bit flipped for negative ones (NaNs sort outside the numbers).
	Float64 Codec[float64] = &float64Codec{}
	// String encodes a string as its bytes; byte order is the order of UTF-8
	// code points.
	String Codec[string] = &stringCodec{}
	// Bytes encodes a byte slice as itself; Decode returns a copy.
	Bytes Codec[[]byte] = &bytesCodec{}
	// Bool encodes false as 0x00 and true as 0x01.
	Bool Codec[bool] = &boolCodec{}
)

// NB: the codecs have pointer receivers, so that a call through the Codec
// interface reaches the method without a wrapper (one function call less per
// state access in the Wasm build).

// JSON returns a codec that encodes T with encoding/json. It does not
// preserve order, so it is for values rather than map keys.
func JSON[T any]() Codec[T] { return &jsonCodec[T]{} }

const signBit = 1 << 63

type int64Codec struct{}

func (*int64Codec) Append(dst []byte, v int64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(dst, uint64(v)^signBit), nil
}

func (*int64Codec) Decode(src []byte) (int64, error) {
	if len(src) != 8 {
		return 0, sizeError("Int64", len(src), 8)
	}
	return int64(binary.BigEndian.Uint64(src) ^ signBit), nil
}

type uint64Codec struct{}

func (*uint64Codec) Append(dst []byte, v uint64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(dst, v), nil
}

func (*uint64Codec) Decode(src []byte) (uint64, error) {
	if len(src) != 8 {
		return 0, sizeError("Uint64", len(src), 8)
	}
	return binary.BigEndian.Uint64(src), nil
}

type float64Codec struct{}

func (*float64Codec) Append(dst []byte, v float64) ([]byte, error) {
	b := math.Float64bits(v)
	if b&signBit != 0 {
		b = ^b
	} else {
		b |= signBit
	}
	return binary.BigEndian.AppendUint64(dst, b), nil
}

func (*float64Codec) Decode(src []byte) (float64, error) {
	if len(src) != 8 {
		return 0, sizeError("Float64", len(src), 8)
	}
	b := binary.BigEndian.Uint64(src)
	if b&signBit != 0 {
		b &^= signBit
	} else {
		b = ^b
	}
	return math.Float64frombits(b), nil
}

type stringCodec struct{}

func (*stringCodec) Append(dst []byte, v string) ([]byte, error) { return append(dst, v...), nil }
func (*stringCodec) Decode(src []byte) (string, error)           { return string(src), nil }

type bytesCodec struct{}

func (*bytesCodec) Append(dst []byte, v []byte) ([]byte, error) { return append(dst, v...), nil }
func (*bytesCodec) Decode(src []byte) ([]byte, error)           { return append([]byte{}, src...), nil }

type boolCodec struct{}

func (*boolCodec) Append(dst []byte, v bool) ([]byte, error) {
	if v {
		return append(dst, 1), nil
	}
	return append(dst, 0), nil
}

func (*boolCodec) Decode(src []byte) (bool, error) {
	if len(src) != 1 || src[0] > 1 {
		return false, fmt.Errorf("weir: Bool codec: got % x, want 00 or 01", src)
	}
	return src[0] == 1, nil
}

type jsonCodec[T any] struct{}

func (*jsonCodec[T]) Append(dst []byte, v T) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("weir: JSON codec: %w", err)
	}
	return append(dst, b...), nil
}

func (*jsonCodec[T]) Decode(src []byte) (T, error) {
	var v T
	if err := json.Unmarshal(src, &v); err != nil {
		return v, fmt.Errorf("weir: JSON codec: %w", err)
	}
	return v, nil
}

func sizeError(codec string, got, want int) error {
	return fmt.Errorf("weir: %s codec: got %d bytes, want %d", codec, got, want)
}

// fixedCodec names the SDK's 8-byte codecs, which ValueState encodes and
// decodes inline rather than through the Codec interface: in the Wasm build
// that saves two function calls per Get or Set.
type fixedCodec uint8

const (
	notFixed fixedCodec = iota
	fixedInt64
	fixedUint64
	fixedFloat64
)

// fixedCodecOf returns which of the SDK's 8-byte codecs c is, if any. T is
// then int64, uint64 or float64, since those codecs implement Codec of that
// type only.
func fixedCodecOf[T any](c Codec[T]) fixedCodec {
	switch any(c).(type) {
	case *int64Codec:
		return fixedInt64
	case *uint64Codec:
		return fixedUint64
	case *float64Codec:
		return fixedFloat64
	}
	return notFixed
}

// encodeFixed returns the 8 bytes of v, as the codec k encodes it, as a
// big-endian integer. k is not notFixed, so T is an 8-byte number.
func encodeFixed[T any](k fixedCodec, v T) uint64 {
	if unsafe.Sizeof(v) != 8 {
		panic("weir: fixed codec of a type that is not 8 bytes")
	}
	b := *(*uint64)(unsafe.Pointer(&v))
	switch k {
	case fixedInt64:
		return b ^ signBit
	case fixedFloat64:
		if b&signBit != 0 {
			return ^b
		}
		return b | signBit
	}
	return b
}

// decodeFixed is the inverse of encodeFixed.
func decodeFixed[T any](k fixedCodec, b uint64) (v T) {
	if unsafe.Sizeof(v) != 8 {
		panic("weir: fixed codec of a type that is not 8 bytes")
	}
	switch k {
	case fixedInt64:
		b ^= signBit
	case fixedFloat64:
		if b&signBit != 0 {
			b &^= signBit
		} else {
			b = ^b
		}
	}
	*(*uint64)(unsafe.Pointer(&v)) = b
	return v
}
