package runtime

import (
	"math/rand"
	"slices"
	"testing"
)

// TestAckSeq fills slots in random orders: acknowledgements must go on in
// slot order, each exactly once, and none before every earlier slot is filled.
func TestAckSeq(t *testing.T) {
	for seed := range int64(50) {
		rng := rand.New(rand.NewSource(seed))
		var q ackSeq
		var sent []int64
		n := 1 + rng.Intn(20)
		fills := make([]func(ackMsg), n)
		for i := range fills {
			fills[i] = q.next(func(m ackMsg) { sent = append(sent, m.checkpoint) })
		}
		filled := make([]bool, n)
		for _, i := range rng.Perm(n) {
			fills[i](ackMsg{checkpoint: int64(i)})
			filled[i] = true
			prefix := 0
			for prefix < n && filled[prefix] {
				prefix++
			}
			if len(sent) != prefix {
				t.Fatalf("seed %d: after filling slot %d, %d acknowledgements went on; want the filled prefix, %d", seed, i, len(sent), prefix)
			}
		}
		want := make([]int64, n)
		for i := range want {
			want[i] = int64(i)
		}
		if !slices.Equal(sent, want) {
			t.Fatalf("seed %d: sent %v, want %v", seed, sent, want)
		}
	}
}
