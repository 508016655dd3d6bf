package runtime

import (
	"container/heap"
	"encoding/binary"
	"fmt"

	"github.com/weirstream/weir/abi"
)

// timerService keeps the timers of one keyed operator subtask: an in-memory
// min-heap per kind for firing, mirrored into the state backend (in the runtime
// namespace of each key group) so that timers are part of every checkpoint and
// move with their key group on rescale.
//
// Timer state key: key group (2) | 0 (1) | namespaceTimers (1) | kind (1) |
// time (8, big-endian, sign bit flipped so that order is numeric) | key.
type timerService struct {
	backend        StateBackend
	maxParallelism int
	heaps          [3]timerHeap        // indexed by abi.Kind; 0 unused
	live           map[string]struct{} // state keys of registered timers
	scratch        []byte
}

type timer struct {
	time int64
	key  string
	kg   int
}

type timerHeap []timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].time != h[j].time {
		return h[i].time < h[j].time
	}
	return h[i].key < h[j].key
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

func newTimerService(b StateBackend, maxParallelism int) *timerService {
	return &timerService{backend: b, maxParallelism: maxParallelism, live: map[string]struct{}{}}
}

func appendTimerKey[K []byte | string](dst []byte, kg int, kind abi.Kind, t int64, key K) []byte {
	dst = append(dst, byte(kg>>8), byte(kg), 0, namespaceTimers, byte(kind))
	dst = binary.BigEndian.AppendUint64(dst, uint64(t)^(1<<63))
	return append(dst, key...)
}

// restore loads the timers of key groups kgs from the backend.
func (s *timerService) restore(kgs KeyGroupRange) error {
	for kg := kgs.First; kg <= kgs.Last; kg++ {
		start := []byte{byte(kg >> 8), byte(kg), 0, namespaceTimers}
		end := []byte{byte(kg >> 8), byte(kg), 0, namespaceTimers + 1}
		var bad error
		err := s.backend.Scan(start, end, func(k, _ []byte) bool {
			if len(k) < 13 || (k[4] != byte(abi.KindEventTimer) && k[4] != byte(abi.KindProcessingTime)) {
				bad = fmt.Errorf("restore timers: malformed timer key %x in key group %d", k, kg)
				return false
			}
			kind := abi.Kind(k[4])
			t := int64(binary.BigEndian.Uint64(k[5:13]) ^ (1 << 63))
			s.live[string(k)] = struct{}{}
			heap.Push(&s.heaps[kind], timer{time: t, key: string(k[13:]), kg: kg})
			return true
		})
		if err != nil {
			return fmt.Errorf("restore timers of key group %d: %w", kg, err)
		}
		if bad != nil {
			return bad
		}
	}
	return nil
}

// set registers a timer; registering an existing one again does nothing.
func (s *timerService) set(kg int, kind abi.Kind, t int64, key []byte) error {
	s.scratch = appendTimerKey(s.scratch[:0], kg, kind, t, key)
	if _, ok := s.live[string(s.scratch)]; ok {
		return nil
	}
	if err := s.backend.Set(s.scratch, nil); err != nil {
		return err
	}
	s.live[string(s.scratch)] = struct{}{}
	heap.Push(&s.heaps[kind], timer{time: t, key: string(key), kg: kg})
	return nil
}

// remove deletes a timer; the heap entry is dropped lazily when it surfaces.
func (s *timerService) remove(kg int, kind abi.Kind, t int64, key []byte) error {
	s.scratch = appendTimerKey(s.scratch[:0], kg, kind, t, key)
	if _, ok := s.live[string(s.scratch)]; !ok {
		return nil
	}
	delete(s.live, string(s.scratch))
	return s.backend.Delete(s.scratch)
}

// next returns the earliest live timer of kind, if any.
func (s *timerService) next(kind abi.Kind) (timer, bool) {
	h := &s.heaps[kind]
	for h.Len() > 0 {
		t := (*h)[0]
		s.scratch = appendTimerKey(s.scratch[:0], t.kg, kind, t.time, t.key)
		if _, ok := s.live[string(s.scratch)]; ok {
			return t, true
		}
		heap.Pop(h) // deleted earlier
	}
	return timer{}, false
}

// popDue removes and appends to w (as timer entries) the timers of kind due at
// or before now, at most max of them, in (time, key) order. It returns how many.
func (s *timerService) popDue(kind abi.Kind, now int64, max int, w *abi.Writer) (int, error) {
	n := 0
	for n < max {
		t, ok := s.next(kind)
		if !ok || t.time > now {
			break
		}
		heap.Pop(&s.heaps[kind])
		s.scratch = appendTimerKey(s.scratch[:0], t.kg, kind, t.time, t.key)
		delete(s.live, string(s.scratch))
		if err := s.backend.Delete(s.scratch); err != nil {
			return n, err
		}
		w.Append(abi.Entry{Kind: kind, Key: []byte(t.key), Timestamp: t.time})
		n++
	}
	return n, nil
}
