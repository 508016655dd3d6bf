package pebble

import (
	"errors"
	"fmt"
	"testing"
)

// mapWriter records what the cache writes back.
type mapWriter struct {
	m          map[string]string
	puts, dels int
	fail       error
}

func newMapWriter() *mapWriter { return &mapWriter{m: map[string]string{}} }

func (w *mapWriter) put(k, v []byte) error {
	if w.fail != nil {
		return w.fail
	}
	w.puts++
	w.m[string(k)] = string(v)
	return nil
}

func (w *mapWriter) del(k []byte) error {
	if w.fail != nil {
		return w.fail
	}
	w.dels++
	delete(w.m, string(k))
	return nil
}

// checkCache checks the cache's invariants: the byte count, the index and the
// dirty list agree with the slots.
func checkCache(t *testing.T, c *cache) {
	t.Helper()
	var used int64
	dirty := 0
	for i, s := range c.slots {
		if s.flags&slotUsed == 0 {
			if s.dirty >= 0 || s.key != "" {
				t.Fatalf("free slot %d holds key %q, dirty %d", i, s.key, s.dirty)
			}
			continue
		}
		used += entrySize(len(s.key), cap(s.value))
		if j, ok := c.index[s.key]; !ok || int(j) != i {
			t.Fatalf("slot %d (key %q) is indexed as %d, %v", i, s.key, j, ok)
		}
		if s.dirty >= 0 {
			dirty++
			if int(c.dirty[s.dirty]) != i {
				t.Fatalf("slot %d says it is dirty entry %d, which is slot %d", i, s.dirty, c.dirty[s.dirty])
			}
		}
		if s.flags&slotTombstone != 0 && len(s.value) != 0 {
			t.Fatalf("tombstone %q has a value", s.key)
		}
	}
	if used != c.used {
		t.Fatalf("cache counts %d bytes, its entries add up to %d", c.used, used)
	}
	if dirty != len(c.dirty) || len(c.index)+len(c.free) != len(c.slots) {
		t.Fatalf("%d dirty slots, dirty list of %d; %d indexed + %d free != %d slots",
			dirty, len(c.dirty), len(c.index), len(c.free), len(c.slots))
	}
}

func TestCacheGetSetDelete(t *testing.T) {
	c := newCache(1 << 20)
	for _, step := range []struct {
		name         string
		do           func()
		key          string
		value        string
		present, hit bool
		dirty        int
	}{
		{name: "miss", do: func() {}, key: "a"},
		{name: "set", do: func() { c.set([]byte("a"), []byte("1")) }, key: "a", value: "1", present: true, hit: true, dirty: 1},
		{name: "grow value", do: func() { c.set([]byte("a"), []byte("a much longer value")) }, key: "a", value: "a much longer value", present: true, hit: true, dirty: 1},
		{name: "shrink value", do: func() { c.set([]byte("a"), []byte("s")) }, key: "a", value: "s", present: true, hit: true, dirty: 1},
		{name: "delete cached", do: func() { c.del([]byte("a")) }, key: "a", hit: true, dirty: 1},
		{name: "delete uncached is a dirty tombstone", do: func() { c.del([]byte("b")) }, key: "b", hit: true, dirty: 2},
		{name: "fill absent is a clean tombstone", do: func() { c.fill([]byte("c"), nil, false) }, key: "c", hit: true, dirty: 2},
		{name: "fill present", do: func() { c.fill([]byte("d"), []byte("from pebble"), true) }, key: "d", value: "from pebble", present: true, hit: true, dirty: 2},
		{name: "delete clean tombstone writes nothing", do: func() { c.del([]byte("c")) }, key: "c", hit: true, dirty: 2},
		{name: "empty value is present", do: func() { c.set([]byte("e"), nil) }, key: "e", value: "", present: true, hit: true, dirty: 3},
	} {
		step.do()
		v, present, hit := c.get([]byte(step.key))
		if string(v) != step.value || present != step.present || hit != step.hit {
			t.Fatalf("%s: get(%q) = %q, %v, %v; want %q, %v, %v", step.name, step.key, v, present, hit, step.value, step.present, step.hit)
		}
		if c.dirtyCount() != step.dirty {
			t.Fatalf("%s: %d dirty entries, want %d", step.name, c.dirtyCount(), step.dirty)
		}
		checkCache(t, c)
	}
	w := newMapWriter()
	if err := c.writeBack(w); err != nil {
		t.Fatal(err)
	}
	if w.puts != 1 || w.dels != 2 || w.m["e"] != "" || c.dirtyCount() != 0 {
		t.Fatalf("write-back made %d puts and %d deletes (%v), %d still dirty; want 1 put (e) and 2 deletes (a, b)", w.puts, w.dels, w.m, c.dirtyCount())
	}
	checkCache(t, c)
}

func TestCacheEvictionWritesBackDirtyEntries(t *testing.T) {
	const keys = 1000
	limit := 50 * entrySize(8, 8)
	c := newCache(limit)
	w := newMapWriter()
	model := map[string]string{}
	for i := range keys {
		k := fmt.Sprintf("key%05d", i)
		switch {
		case i%10 == 3:
			c.del([]byte(fmt.Sprintf("key%05d", i-1)))
			delete(model, fmt.Sprintf("key%05d", i-1))
		case i%10 == 5:
			c.fill([]byte(k), []byte("clean"), true) // as read from Pebble
			w.m[k] = "clean"
			model[k] = "clean"
		default:
			c.set([]byte(k), []byte(fmt.Sprintf("v%06d", i)))
			model[k] = fmt.Sprintf("v%06d", i)
		}
		if c.over() {
			if err := c.evict(w); err != nil {
				t.Fatal(err)
			}
		}
		if c.used > limit {
			t.Fatalf("after key %d the cache holds %d bytes, over its bound %d", i, c.used, limit)
		}
		checkCache(t, c)
	}
	if len(c.index) >= keys/2 {
		t.Fatalf("%d of %d keys still cached: nothing was evicted", len(c.index), keys)
	}
	// What was evicted is in the writer; what is cached shadows it.
	for k, want := range model {
		v, present, hit := c.get([]byte(k))
		if !hit {
			v, present = []byte(w.m[k]), true
			if _, ok := w.m[k]; !ok {
				present = false
			}
		}
		if !present || string(v) != want {
			t.Fatalf("key %s reads %q (present %v, cached %v), want %q", k, v, present, hit, want)
		}
	}
	// Deleted keys are absent both ways.
	for i := 2; i < keys; i += 10 {
		k := fmt.Sprintf("key%05d", i)
		v, present, hit := c.get([]byte(k))
		if hit && present || !hit && w.m[k] != "" {
			t.Fatalf("deleted key %s reads %q (cached %v, written %q)", k, v, hit, w.m[k])
		}
	}
}

func TestCacheWriteFailures(t *testing.T) {
	c := newCache(10 * entrySize(1, 1))
	for i := range 20 {
		c.set([]byte{byte(i)}, []byte{byte(i)})
	}
	w := newMapWriter()
	w.fail = errors.New("disk full")
	if err := c.writeBack(w); !errors.Is(err, w.fail) {
		t.Fatalf("writeBack with a failing writer = %v, want its error", err)
	}
	checkCache(t, c)
	if c.dirtyCount() != 20 {
		t.Fatalf("%d dirty entries after a failed write-back, want all 20", c.dirtyCount())
	}
	if err := c.evict(w); !errors.Is(err, w.fail) {
		t.Fatalf("evict with a failing writer = %v, want its error", err)
	}
	checkCache(t, c)
	if c.dirtyCount() != 20 || len(c.index) != 20 {
		t.Fatalf("%d entries, %d dirty after a failed eviction, want all 20 cached and dirty", len(c.index), c.dirtyCount())
	}
}

func TestCacheKeepsHotEntries(t *testing.T) {
	// CLOCK gives an entry used between two passes of the hand a second chance.
	c := newCache(20 * entrySize(8, 8))
	w := newMapWriter()
	hot := []byte("hot00000")
	c.set(hot, []byte("hotvalue"))
	for i := range 10_000 {
		c.set(fmt.Appendf(nil, "k%07d", i), []byte("12345678"))
		if c.over() {
			if err := c.evict(w); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, hit := c.get(hot); !hit {
			t.Fatalf("the hot entry was evicted after %d new keys", i+1)
		}
	}
	if _, ok := w.m[string(hot)]; ok {
		t.Fatal("the hot entry was written back: it was evicted")
	}
}

func TestCacheHitsDoNotAllocate(t *testing.T) {
	c := newCache(1 << 20)
	key := []byte("\x00\x07\x05count\x00\x00\x00\x08abcdefgh")
	value := []byte("12345678")
	c.set(key, value)
	var w discardWriter
	for _, tc := range []struct {
		name string
		op   func()
	}{
		{name: "get", op: func() { c.get(key) }},
		{name: "set same size", op: func() { c.set(key, value) }},
		{name: "set after write-back", op: func() { c.set(key, value); _ = c.writeBack(w) }},
		{name: "delete and set", op: func() { c.del(key); c.set(key, value[:4]) }},
	} {
		if n := testing.AllocsPerRun(1000, tc.op); n != 0 {
			t.Errorf("%s on a cached key: %v allocations, want 0", tc.name, n)
		}
	}
}

// discardWriter accepts and forgets what the cache writes back.
type discardWriter struct{}

func (discardWriter) put(k, v []byte) error { return nil }
func (discardWriter) del(k []byte) error    { return nil }
