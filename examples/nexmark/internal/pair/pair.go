package pair

import (
	"encoding/binary"
	"fmt"

	weir "github.com/weirstream/weir/sdk/go"
)

// Codec encodes a [2]int64 in 16 bytes.
var Codec weir.Codec[[2]int64] = &codec{}

const signBit = 1 << 63

type codec struct{}

func (*codec) Append(dst []byte, v [2]int64) ([]byte, error) {
	dst = binary.BigEndian.AppendUint64(dst, uint64(v[0])^signBit)
	return binary.BigEndian.AppendUint64(dst, uint64(v[1])^signBit), nil
}

func (*codec) Decode(src []byte) ([2]int64, error) {
	if len(src) != 16 {
		return [2]int64{}, fmt.Errorf("pair codec: %d bytes, want 16", len(src))
	}
	return [2]int64{int64(binary.BigEndian.Uint64(src) ^ signBit), int64(binary.BigEndian.Uint64(src[8:]) ^ signBit)}, nil
}

// WindowStart returns the start of the tumbling window of size ms that holds
// ts: the largest multiple of size at or below ts (also for negative ts).
func WindowStart(ts, size int64) int64 {
	m := ts % size
	if m < 0 {
		m += size
	}
	return ts - m
}
