package runtime

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/weirstream/weir/abi"
)

// timerService keeps the timers of one keyed operator subtask. Every timer is a
// key in the state backend (in the runtime namespace of its key group), so
// timers are part of every checkpoint, move with their key group on rescale,
// and need no memory of their own beyond what the backend's cache holds. For
// firing them in time order it keeps, per kind, an in-memory min-heap of the
// earliest timers — at most timerHeapMax of them — and reloads the next
// earliest from the backend when the heap runs dry.
//
// INVARIANT: for each kind, every live timer ordered before frontier[kind] (by
// time, then key) is in heaps[kind] — every live timer when all[kind]. The heap may also hold entries of timers
// deleted since (and duplicates); they are recognised by looking the timer up
// in the backend when it surfaces. A key has one key group, so (time, key)
// orders timers completely.
//
// Timer state key: key group (2) | 0 (1) | namespace (1) | kind (1) |
// time (8, big-endian, sign bit flipped so that order is numeric) | key. The
// namespace is namespaceTimers for the operator's timers, which fire into
// the operator; the runtime keeps timers of its own in other namespaces
// (namespaceCallExpiry: calls.go), which the operator never sees.
type timerService struct {
	backend  StateBackend
	kgs      KeyGroupRange
	ns       byte         // the runtime namespace of the timers
	heaps    [3]timerHeap // indexed by abi.Kind; 0 unused
	frontier [3]timerPos  // see the invariant
	all      [3]bool      // the heap holds every live timer of the kind
	scratch  []byte
	// batchKeys holds the keys of the timers popped for one batch.
	batchKeys map[string]struct{}
}

// timerHeapMax bounds each in-memory heap, in timers (a variable for tests).
var timerHeapMax = 1 << 16

// timerRefillMax is how many timers a refill loads at most (and how many it
// reads from one key group at most); a variable for tests.
var timerRefillMax = 4096

type timer struct {
	time int64
	key  string
	kg   int
}

// timerPos is a position in the order of timers.
type timerPos struct {
	time int64
	key  string
}

func (t timer) pos() timerPos { return timerPos{t.time, t.key} }

func (a timerPos) less(b timerPos) bool { return a.time < b.time || a.time == b.time && a.key < b.key }

type timerHeap []timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].pos().less(h[j].pos()) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// newTimerService returns the service of the timers in runtime namespace ns
// of key groups kgs in b.
func newTimerService(b StateBackend, kgs KeyGroupRange, ns byte) *timerService {
	s := &timerService{backend: b, kgs: kgs, ns: ns, batchKeys: map[string]struct{}{}}
	for k := range s.frontier {
		s.frontier[k] = timerPos{time: minWatermark()} // nothing loaded yet: the first next() reads the backend
	}
	return s
}

const timerKeyPrefixLen = 5 // key group, 0, namespace, kind

func appendTimerKey[K []byte | string](dst []byte, ns byte, kg int, kind abi.Kind, t int64, key K) []byte {
	dst = append(dst, byte(kg>>8), byte(kg), 0, ns, byte(kind))
	dst = binary.BigEndian.AppendUint64(dst, uint64(t)^(1<<63))
	return append(dst, key...)
}

// exists reports whether the timer with state key k is registered.
func (s *timerService) exists(k []byte) (bool, error) {
	_, ok, err := s.backend.Get(k)
	return ok, err
}

// set registers a timer; registering an existing one again does nothing.
func (s *timerService) set(kg int, kind abi.Kind, t int64, key []byte) error {
	s.scratch = appendTimerKey(s.scratch[:0], s.ns, kg, kind, t, key)
	ok, err := s.exists(s.scratch)
	if err != nil || ok {
		return err
	}
	return s.register(kg, kind, t, key)
}

// add registers a timer that the caller believes is not registered, without
// set's look-up (a miss costs a backend read). NB: adding a timer that is
// registered after all is harmless: the backend write is the same key with the
// same (empty) value, and the second heap entry is dropped when it surfaces
// (next), as the invariant allows. It only costs a heap slot, so callers use
// add where a registered timer is rare, never to set one timer repeatedly.
func (s *timerService) add(kg int, kind abi.Kind, t int64, key []byte) error {
	s.scratch = appendTimerKey(s.scratch[:0], s.ns, kg, kind, t, key)
	return s.register(kg, kind, t, key)
}

// register writes the timer whose state key is in s.scratch and puts it in
// the heap if the heap must hold it.
func (s *timerService) register(kg int, kind abi.Kind, t int64, key []byte) error {
	if err := s.backend.Set(s.scratch, nil); err != nil {
		return err
	}
	if tm := (timer{time: t, key: string(key), kg: kg}); s.all[kind] || tm.pos().less(s.frontier[kind]) {
		heap.Push(&s.heaps[kind], tm)
		if len(s.heaps[kind]) > timerHeapMax {
			s.shrink(kind)
		}
	}
	return nil
}

// shrink keeps the earliest half of a heap that grew past its bound and lowers
// the frontier to the first timer it dropped: those stay in the backend only.
func (s *timerService) shrink(kind abi.Kind) {
	h := s.heaps[kind]
	sort.Sort(h)
	cut := h[len(h)/2].pos()
	n := sort.Search(len(h), func(i int) bool { return !h[i].pos().less(cut) })
	// NB: a sorted slice is a valid heap.
	s.heaps[kind] = h[:n]
	s.frontier[kind], s.all[kind] = cut, false
}

// remove deletes a timer; its heap entry is dropped when it surfaces.
func (s *timerService) remove(kg int, kind abi.Kind, t int64, key []byte) error {
	s.scratch = appendTimerKey(s.scratch[:0], s.ns, kg, kind, t, key)
	return s.backend.Delete(s.scratch)
}

// next returns the earliest live timer of kind, if any.
func (s *timerService) next(kind abi.Kind) (timer, bool, error) {
	h := &s.heaps[kind]
	for {
		if h.Len() == 0 {
			if s.all[kind] {
				return timer{}, false, nil
			}
			if err := s.refill(kind); err != nil {
				return timer{}, false, err
			}
			continue
		}
		t := (*h)[0]
		s.scratch = appendTimerKey(s.scratch[:0], s.ns, t.kg, kind, t.time, t.key)
		ok, err := s.exists(s.scratch)
		if err != nil {
			return timer{}, false, err
		}
		if ok {
			return t, true, nil
		}
		heap.Pop(h) // deleted since it was pushed, or a duplicate of one already fired
	}
}

// refill loads from the backend the earliest timers of kind from the frontier
// on, at most timerRefillMax of them, and moves the frontier past what it
// loaded. The heap is empty when it is called.
func (s *timerService) refill(kind abi.Kind) error {
	from := s.frontier[kind]
	var loaded timerHeap
	var limit timerPos // timers from limit on were not all read (if capped)
	capped := false
	for kg := s.kgs.First; kg <= s.kgs.Last; kg++ {
		start := appendTimerKey(nil, s.ns, kg, kind, from.time, from.key)
		end := []byte{byte(kg >> 8), byte(kg), 0, s.ns, byte(kind) + 1}
		n := 0
		var bad error
		err := s.backend.Scan(start, end, func(k, _ []byte) bool {
			if len(k) < timerKeyPrefixLen+8 || !bytes.Equal(k[:timerKeyPrefixLen], start[:timerKeyPrefixLen]) {
				bad = fmt.Errorf("malformed timer key %x in key group %d", k, kg)
				return false
			}
			t := timer{time: int64(binary.BigEndian.Uint64(k[timerKeyPrefixLen:]) ^ (1 << 63)), key: string(k[timerKeyPrefixLen+8:]), kg: kg}
			if n == timerRefillMax {
				if !capped || t.pos().less(limit) {
					limit, capped = t.pos(), true // this key group has more from t on
				}
				return false
			}
			loaded = append(loaded, t)
			n++
			return true
		})
		if err == nil {
			err = bad
		}
		if err != nil {
			return fmt.Errorf("load timers of key group %d: %w", kg, err)
		}
	}
	sort.Sort(loaded)
	if len(loaded) > timerRefillMax && (!capped || loaded[timerRefillMax].pos().less(limit)) {
		limit, capped = loaded[timerRefillMax].pos(), true
	}
	if !capped {
		s.heaps[kind], s.all[kind] = loaded, true
		return nil
	}
	// Keep the timers before limit: every live timer before it has been read.
	// INVARIANT: limit is after the first timer loaded, so a capped refill
	// keeps at least one: the frontier moves forward.
	n := sort.Search(len(loaded), func(i int) bool { return !loaded[i].pos().less(limit) })
	s.heaps[kind] = loaded[:n]
	s.frontier[kind] = limit
	return nil
}

// popDue removes and appends to w (as timer entries) the timers of kind due at
// or before now, at most max of them, in (time, key) order. It returns how many.
//
// A batch holds at most one timer per key: the batch stops before a second
// one. Timers are deleted when they are popped, so if a batch held two timers
// of a key and handling the first set the second again (as windows do), that
// timer would be registered anew and fire twice. Handling the first timer may
// also delete or move the second, which then must not fire from this batch.
func (s *timerService) popDue(kind abi.Kind, now int64, max int, w *abi.Writer) (int, error) {
	clear(s.batchKeys)
	return s.pop(kind, now, max, func(t timer) (bool, error) {
		if _, dup := s.batchKeys[t.key]; dup {
			return false, nil
		}
		s.batchKeys[t.key] = struct{}{}
		w.Append(abi.Entry{Kind: kind, Key: []byte(t.key), Timestamp: t.time})
		return true, nil
	})
}

// pop removes the timers of kind due at or before now, at most max of them,
// in (time, key) order, and returns how many. It calls take with each before
// it removes it; take returns false to stop before that timer. The runtime's
// own timers, which no operator sees, are handled by a take of their own.
func (s *timerService) pop(kind abi.Kind, now int64, max int, take func(t timer) (bool, error)) (int, error) {
	n := 0
	for n < max {
		t, ok, err := s.next(kind)
		if err != nil || !ok || t.time > now {
			return n, err
		}
		switch ok, err := take(t); {
		case err != nil:
			return n, err
		case !ok:
			return n, nil
		}
		heap.Pop(&s.heaps[kind])
		s.scratch = appendTimerKey(s.scratch[:0], s.ns, t.kg, kind, t.time, t.key)
		if err := s.backend.Delete(s.scratch); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
