package pair

import (
	"bytes"
	"testing"
)

func TestCodecOrder(t *testing.T) {
	vals := [][2]int64{{-5, 3}, {-5, 4}, {0, -1}, {0, 0}, {7, -9}}
	var prev []byte
	for _, v := range vals {
		b, _ := Codec.Append(nil, v)
		if got, err := Codec.Decode(b); err != nil || got != v {
			t.Fatalf("%v: decoded %v, %v", v, got, err)
		}
		if prev != nil && bytes.Compare(prev, b) >= 0 {
			t.Fatalf("%v does not sort after the value before it", v)
		}
		prev = b
	}
	if _, err := Codec.Decode(make([]byte, 15)); err == nil {
		t.Fatal("decoded 15 bytes")
	}
}

func TestWindowStart(t *testing.T) {
	tests := []struct {
		name           string
		ts, size, want int64
	}{
		{"start", 10_000, 10_000, 10_000},
		{"inside", 19_999, 10_000, 10_000},
		{"negative", -1, 10_000, -10_000},
		{"negative start", -10_000, 10_000, -10_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := WindowStart(tc.ts, tc.size); got != tc.want {
				t.Fatalf("WindowStart(%d, %d) = %d, want %d", tc.ts, tc.size, got, tc.want)
			}
		})
	}
}
