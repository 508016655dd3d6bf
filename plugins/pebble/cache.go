package pebble

import (
	"math"
	"unsafe"
)

// Limits and accounting of the state cache.
const (
	// DefaultCacheBytes is the cache bound when BackendConfig.CacheBytes is 0.
	DefaultCacheBytes = 64 << 20
	// entryOverheadBytes is what the cache counts for one entry besides its key
	// and value bytes: the slot (48 bytes), its share of the index map (a
	// 24-byte map slot at a typical load, ~40 bytes), the dirty and free lists,
	// and the allocator's rounding of the key and value allocations.
	// BenchmarkCacheEntryBytes measures the heap it stands for: 126 to 148
	// bytes per entry of a 20-byte key and an 8-byte value, which it counts as
	// 140 (the map's share varies as it grows).
	entryOverheadBytes = 112
	// evictBatchFraction sets how far below its bound an eviction round takes
	// the cache: to bound - bound/evictBatchFraction. Evicting a little more
	// than needed lets dirty entries go back to Pebble in one batch per round
	// instead of one write per new key.
	evictBatchFraction = 64
	// valueSlackBytes is how much more than twice a new value's length an
	// entry's buffer may be and still be reused for it in place.
	valueSlackBytes = 32
)

// Bits of slot.flags.
const (
	slotUsed      uint8 = 1 << iota // the slot holds an entry
	slotRef                         // CLOCK reference bit: the entry was used since the hand last passed
	slotTombstone                   // the key is absent: deleted, or known not to be in Pebble
)

// slot is one cache entry. A clean entry agrees with Pebble; a dirty one (in
// cache.dirty) is newer than Pebble and must be written back before it is
// evicted or before anything reads Pebble directly.
type slot struct {
	key   string
	value []byte // empty for a tombstone (which may keep its buffer for a later Set)
	dirty int32  // index in cache.dirty, or -1 when clean
	flags uint8
}

// cache is the bounded write-back cache of hot state entries in front of
// Pebble. Entries live in a slice of slots, indexed by a map from key to slot,
// and are evicted by CLOCK (second chance): a hit only sets a bit, so a hit
// allocates nothing and takes no lock. It is not safe for concurrent use: the
// backend uses it from the subtask's goroutine only.
//
// INVARIANT: used is the sum of entrySize over used slots, and it exceeds
// limit only between an insertion and the eviction round that follows it.
type cache struct {
	limit int64
	used  int64
	index map[string]int32
	slots []slot
	free  []int32 // unused slots, reused before the slice grows
	dirty []int32 // slots of dirty entries, in no order
	hand  int     // CLOCK hand: the next slot eviction looks at
	// last is the slot of the last key found, or -1. A keyed operator reads and
	// then writes the same key (a count: get, then put), so checking it first
	// turns the second map lookup — a few cache misses on a large state — into
	// one comparison of a key that is already in the CPU cache.
	last int32
}

// entryWriter receives the dirty entries the cache writes back.
type entryWriter interface {
	put(key, value []byte) error
	del(key []byte) error
}

func newCache(limit int64) *cache {
	return &cache{limit: limit, index: make(map[string]int32), last: -1}
}

// entrySize is what the cache counts for an entry.
func entrySize(keyLen, valueCap int) int64 {
	return int64(keyLen + valueCap + entryOverheadBytes)
}

// lookup returns the slot of key, if cached.
func (c *cache) lookup(key []byte) (int32, bool) {
	if i := c.last; i >= 0 {
		// NB: the slot may have been reused for another key since; the key
		// comparison (which does not allocate) is what makes the memo safe.
		if s := &c.slots[i]; s.flags&slotUsed != 0 && s.key == string(key) {
			return i, true
		}
	}
	i, ok := c.index[string(key)] // NB: the conversion does not allocate in a map index
	if ok {
		c.last = i
	}
	return i, ok
}

// get looks key up. hit reports whether the cache knows the key; if it does,
// present says whether the key exists and value is its value, valid until the
// next change of the cache.
func (c *cache) get(key []byte) (value []byte, present, hit bool) {
	i, ok := c.lookup(key)
	if !ok {
		return nil, false, false
	}
	s := &c.slots[i]
	s.flags |= slotRef
	if s.flags&slotTombstone != 0 {
		return nil, false, true
	}
	return s.value, true, true
}

// fill caches what Pebble returned for a key that missed: a clean entry with a
// copy of value, or a clean tombstone when the key is absent. It returns the
// cached copy of value. The caller evicts afterwards if over().
func (c *cache) fill(key, value []byte, present bool) []byte {
	i := c.insert(key, value, !present)
	return c.slots[i].value
}

// set makes key's value a copy of value, as a dirty entry.
func (c *cache) set(key, value []byte) {
	i, ok := c.lookup(key)
	if !ok {
		c.markDirty(c.insert(key, value, false))
		return
	}
	s := &c.slots[i]
	if n := len(value); n <= cap(s.value) && cap(s.value) <= 2*n+valueSlackBytes {
		s.value = s.value[:n]
	} else {
		c.used += int64(n - cap(s.value))
		s.value = make([]byte, n)
	}
	copy(s.value, value)
	s.flags = (s.flags | slotRef) &^ slotTombstone
	c.markDirty(i)
}

// del makes key absent, as a dirty tombstone.
func (c *cache) del(key []byte) {
	i, ok := c.lookup(key)
	if !ok {
		c.markDirty(c.insert(key, nil, true))
		return
	}
	s := &c.slots[i]
	if s.flags&slotTombstone != 0 && s.dirty < 0 {
		// Already absent in Pebble too (a clean tombstone): nothing to write.
		s.flags |= slotRef
		return
	}
	s.value = s.value[:0] // keep the buffer (still counted) for a Set that may follow
	s.flags |= slotRef | slotTombstone
	c.markDirty(i)
}

// forget makes a cached key a clean tombstone, after the caller deleted it from
// Pebble directly. The entry must be clean.
func (c *cache) forget(key []byte) {
	i, ok := c.lookup(key)
	if !ok {
		return
	}
	s := &c.slots[i]
	if s.dirty >= 0 {
		panic("pebble: cache.forget of a dirty entry")
	}
	c.used -= int64(cap(s.value))
	s.value = nil
	s.flags |= slotTombstone
}

// over reports whether the cache holds more than its bound.
func (c *cache) over() bool { return c.used > c.limit }

// evict runs CLOCK until the cache holds at most limit - limit/evictBatchFraction
// bytes, handing every dirty entry it evicts to w. If w fails, evict returns
// its error; the entry that failed stays cached and dirty.
func (c *cache) evict(w entryWriter) error {
	target := c.limit - c.limit/evictBatchFraction
	for c.used > target && len(c.index) > 0 {
		if c.hand >= len(c.slots) {
			c.hand = 0
		}
		i := c.hand
		c.hand++
		s := &c.slots[i]
		switch {
		case s.flags&slotUsed == 0:
		case s.flags&slotRef != 0:
			s.flags &^= slotRef
		default:
			if s.dirty >= 0 {
				if err := c.write(w, s); err != nil {
					return err
				}
			}
			c.remove(int32(i))
		}
	}
	return nil
}

// writeBack hands every dirty entry to w and marks them clean; they stay
// cached. If w fails, the entries not yet written stay dirty.
func (c *cache) writeBack(w entryWriter) error {
	for len(c.dirty) > 0 {
		if err := c.write(w, &c.slots[c.dirty[len(c.dirty)-1]]); err != nil {
			return err
		}
	}
	return nil
}

// write hands the dirty entry s to w and marks it clean.
func (c *cache) write(w entryWriter, s *slot) error {
	var err error
	if s.flags&slotTombstone != 0 {
		err = w.del(keyBytes(s.key))
	} else {
		err = w.put(keyBytes(s.key), s.value)
	}
	if err != nil {
		return err
	}
	c.unmarkDirty(s)
	return nil
}

// dirtyCount returns how many entries are dirty.
func (c *cache) dirtyCount() int { return len(c.dirty) }

// insert adds an entry for a key that is not cached and returns its slot.
func (c *cache) insert(key, value []byte, tombstone bool) int32 {
	var i int32
	if n := len(c.free); n > 0 {
		i = c.free[n-1]
		c.free = c.free[:n-1]
	} else {
		if len(c.slots) == math.MaxInt32 {
			// Unreachable: entryOverheadBytes alone would take 240 GiB.
			panic("pebble: state cache has 2^31 entries")
		}
		c.slots = append(c.slots, slot{})
		i = int32(len(c.slots) - 1)
	}
	k := string(key)
	// NB: a new entry starts without its reference bit, so that keys used once
	// (a scan of cold keys, a burst of new keys) leave before keys used twice.
	flags := slotUsed
	var v []byte
	if tombstone {
		flags |= slotTombstone
	} else {
		v = make([]byte, len(value))
		copy(v, value)
	}
	c.slots[i] = slot{key: k, value: v, dirty: -1, flags: flags}
	c.index[k] = i
	c.used += entrySize(len(k), cap(v))
	return i
}

// remove drops the entry in slot i, which must be clean.
func (c *cache) remove(i int32) {
	s := &c.slots[i]
	if s.dirty >= 0 {
		panic("pebble: cache.remove of a dirty entry")
	}
	delete(c.index, s.key)
	c.used -= entrySize(len(s.key), cap(s.value))
	*s = slot{dirty: -1}
	c.free = append(c.free, i)
}

func (c *cache) markDirty(i int32) {
	s := &c.slots[i]
	if s.dirty < 0 {
		s.dirty = int32(len(c.dirty))
		c.dirty = append(c.dirty, i)
	}
}

func (c *cache) unmarkDirty(s *slot) {
	last := len(c.dirty) - 1
	moved := c.dirty[last]
	c.dirty[s.dirty] = moved
	c.slots[moved].dirty = s.dirty
	c.dirty = c.dirty[:last]
	s.dirty = -1
}

// keyBytes returns the bytes of a cached key without copying them.
// NB: the result must not be modified; entryWriters only copy it into a batch.
func keyBytes(k string) []byte { return unsafe.Slice(unsafe.StringData(k), len(k)) }
