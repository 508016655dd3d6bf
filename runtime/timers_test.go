package runtime

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"github.com/weirstream/weir/abi"
)

// mapBackend is a minimal StateBackend for tests of package runtime (the
// in-memory twin lives in runtime/memory, which imports this package).
type mapBackend struct{ m map[string][]byte }

func (b *mapBackend) Get(k []byte) ([]byte, bool, error) { v, ok := b.m[string(k)]; return v, ok, nil }
func (b *mapBackend) Set(k, v []byte) error              { b.m[string(k)] = bytes.Clone(v); return nil }
func (b *mapBackend) Delete(k []byte) error              { delete(b.m, string(k)); return nil }
func (b *mapBackend) DeleteRange(s, e []byte) error {
	for k := range b.m {
		if k >= string(s) && k < string(e) {
			delete(b.m, k)
		}
	}
	return nil
}
func (b *mapBackend) Scan(s, e []byte, fn func(k, v []byte) bool) error {
	var keys []string
	for k := range b.m {
		if k >= string(s) && k < string(e) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !fn([]byte(k), b.m[k]) {
			break
		}
	}
	return nil
}
func (b *mapBackend) Checkpoint(context.Context, int64) (Upload, error) { panic("unused") }
func (b *mapBackend) Close() error                                      { return nil }

// TestTimerServiceModel drives the timer service with random sets (and adds,
// also of timers that exist), deletes and firings — with heaps and reloads far smaller than the timers, and many timers
// at the same time — and checks every firing against a plain sorted model.
func TestTimerServiceModel(t *testing.T) {
	for seed := int64(1); seed <= 30; seed++ {
		rng := rand.New(rand.NewSource(seed))
		defer SetTimerHeapMax(1 + rng.Intn(8))()
		kgs := KeyGroupRange{First: 3, Last: 3 + rng.Intn(4)}
		b := &mapBackend{m: map[string][]byte{}}
		s := newTimerService(b, kgs, namespaceTimers)
		model := map[timerPos]int{} // live timers -> key group
		now := int64(0)
		for step := 0; step < 400; step++ {
			switch op := rng.Intn(10); {
			case op < 5:
				kg := kgs.First + rng.Intn(kgs.Last-kgs.First+1)
				key := fmt.Sprintf("k%d-%d", kg, rng.Intn(6))
				tm := now + int64(rng.Intn(5)) // few distinct times: many ties
				// Half the time add, without set's look-up, whether or not the
				// timer is registered already: that must change no firing
				// (the heap drops a second entry of a timer).
				set := s.set
				if rng.Intn(2) == 0 {
					set = s.add
				}
				if err := set(kg, abi.KindEventTimer, tm, []byte(key)); err != nil {
					t.Fatal(err)
				}
				model[timerPos{tm, key}] = kg
			case op < 7:
				for p, kg := range model {
					if rng.Intn(3) == 0 {
						if err := s.remove(kg, abi.KindEventTimer, p.time, []byte(p.key)); err != nil {
							t.Fatal(err)
						}
						delete(model, p)
						break
					}
				}
			default:
				now += int64(rng.Intn(3))
				var w abi.Writer
				w.Reset()
				n, err := s.popDue(abi.KindEventTimer, now, 1+rng.Intn(10), &w)
				if err != nil {
					t.Fatal(err)
				}
				var due []timerPos
				for p := range model {
					if p.time <= now {
						due = append(due, p)
					}
				}
				sort.Slice(due, func(i, j int) bool { return due[i].less(due[j]) })
				r := abi.NewReader(w.Bytes())
				for i := 0; r.Next(); i++ {
					e := r.Entry()
					got := timerPos{e.Timestamp, string(e.Key)}
					if i >= len(due) || got != due[i] {
						t.Fatalf("seed %d step %d: fired %v as timer %d, want %v", seed, step, got, i, due)
					}
					delete(model, got)
				}
				if n < len(due) && n != w.Count() {
					t.Fatalf("seed %d: popDue returned %d for %d entries", seed, n, w.Count())
				}
			}
		}
	}
}

// TestTimerNoDoubleFire: when handling a fired timer sets another timer of the
// same key that is also due (a window moving to its next firing), that timer
// fires once, not twice.
func TestTimerNoDoubleFire(t *testing.T) {
	s := newTimerService(&mapBackend{m: map[string][]byte{}}, KeyGroupRange{First: 0, Last: 0}, namespaceTimers)
	for _, tm := range []int64{1, 2} {
		if err := s.set(0, abi.KindEventTimer, tm, []byte("k")); err != nil {
			t.Fatal(err)
		}
	}
	var fired []int64
	for round := 0; round < 5; round++ {
		var w abi.Writer
		w.Reset()
		if _, err := s.popDue(abi.KindEventTimer, 10, 100, &w); err != nil {
			t.Fatal(err)
		}
		for r := abi.NewReader(w.Bytes()); r.Next(); {
			e := r.Entry()
			fired = append(fired, e.Timestamp)
			if e.Timestamp == 1 {
				// The handler of k@1 sets k@2, which is already due.
				if err := s.set(0, abi.KindEventTimer, 2, e.Key); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if fmt.Sprint(fired) != "[1 2]" {
		t.Fatalf("fired %v, want [1 2]", fired)
	}
}
