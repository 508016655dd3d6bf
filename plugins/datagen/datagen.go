package datagen

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// Defaults and limits of the options (see doc.go).
const (
	DefaultSeed       = 1
	DefaultSplits     = 1
	DefaultKeys       = 1000
	DefaultValueBytes = 100
	DefaultTimeStep   = 1 // ms
	// maxSplits bounds the splits option.
	maxSplits = 1 << 16
	// indexDigits is the width of the record index at the start of a value.
	indexDigits = 20
	// maxIdleWait bounds how long Read sleeps when the rate limit holds it back.
	maxIdleWait = time.Millisecond
	// maxKeyTable is the largest keys option for which the key strings are
	// formatted once, in NewSource, rather than for every record.
	maxKeyTable = 1 << 16
	// maxReadRecords bounds the records of one Read, whatever maxRecords says,
	// so that a Read of an unbounded split stays short.
	maxReadRecords = 1 << 16
)

// DefaultStartTime is the default of the startTime option: 2025-01-01T00:00:00Z.
var DefaultStartTime = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Options are the options of the datagen source in a job spec (see doc.go).
// Pointer fields tell an absent option (the default) from an explicit zero.
type Options struct {
	Seed       *uint64         `json:"seed"`
	Count      int64           `json:"count"`
	Splits     *int            `json:"splits"`
	Rate       float64         `json:"rate"`
	Keys       *int64          `json:"keys"`
	ValueBytes *int            `json:"valueBytes"`
	StartTime  json.RawMessage `json:"startTime"`
	TimeStep   *int64          `json:"timeStep"`
}

// Source generates a deterministic stream of records (see doc.go). It is safe
// for concurrent use; its readers are not.
type Source struct {
	seed       uint64
	count      uint64 // 0: unbounded
	splits     uint64
	rate       float64 // records/s over all splits; 0: unlimited
	keys       uint64
	valueBytes int
	startTime  int64 // ms
	timeStep   int64 // ms
	filler     []byte
	// keyTable holds "key-0key-1...", keyOff[n] is where key n starts; both
	// are nil when keys > maxKeyTable.
	keyTable []byte
	keyOff   []uint32
}

var _ runtime.Source = (*Source)(nil)

// NewSource returns the generator that the JSON options opts describe;
// baseDir is unused. An unknown option or a bad value gives an error that
// names the option.
func NewSource(opts json.RawMessage, baseDir string) (runtime.Source, error) {
	return newSource(opts)
}

func newSource(opts json.RawMessage) (*Source, error) {
	var o Options
	if err := runtime.DecodeOptions(opts, &o); err != nil {
		return nil, fmt.Errorf("datagen source: %w", err)
	}
	s := &Source{
		seed: DefaultSeed, splits: DefaultSplits, rate: o.Rate, keys: DefaultKeys,
		valueBytes: DefaultValueBytes, startTime: DefaultStartTime.UnixMilli(), timeStep: DefaultTimeStep,
	}
	var errs []error
	bad := func(option, format string, args ...any) {
		errs = append(errs, fmt.Errorf("datagen source: option %s: %s", option, fmt.Sprintf(format, args...)))
	}
	if o.Seed != nil {
		s.seed = *o.Seed
	}
	if o.Count < 0 {
		bad("count", "%d is negative (0 means unbounded)", o.Count)
	}
	s.count = uint64(max(o.Count, 0))
	if o.Splits != nil {
		if *o.Splits < 1 || *o.Splits > maxSplits {
			bad("splits", "%d is outside 1..%d", *o.Splits, maxSplits)
		}
		s.splits = uint64(max(*o.Splits, 1))
	}
	if o.Rate < 0 || math.IsInf(o.Rate, 0) {
		bad("rate", "%v records/s is negative (0 means unlimited)", o.Rate)
	}
	if o.Keys != nil {
		if *o.Keys < 1 {
			bad("keys", "%d is less than 1", *o.Keys)
		}
		s.keys = uint64(max(*o.Keys, 1))
	}
	if o.ValueBytes != nil {
		if *o.ValueBytes < 0 || *o.ValueBytes > abi.MaxValueBytes {
			bad("valueBytes", "%d is outside 0..%d", *o.ValueBytes, abi.MaxValueBytes)
		}
		s.valueBytes = min(max(*o.ValueBytes, 0), abi.MaxValueBytes)
	}
	if len(o.StartTime) > 0 {
		ms, err := parseStartTime(o.StartTime)
		if err != nil {
			bad("startTime", "%v", err)
		}
		s.startTime = ms
	}
	if o.TimeStep != nil {
		if *o.TimeStep < 0 {
			bad("timeStep", "%d ms is negative; timestamps must not decrease", *o.TimeStep)
		}
		s.timeStep = max(*o.TimeStep, 0)
	}
	if len(errs) == 0 && s.count > 0 && s.timeStep > 0 {
		last := s.count - 1
		if last > uint64(math.MaxInt64-max(s.startTime, 0))/uint64(s.timeStep) {
			bad("timeStep", "startTime + (count-1) * timeStep overflows int64 milliseconds")
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s.filler = make([]byte, s.valueBytes)
	for j := range s.filler {
		s.filler[j] = 'a' + byte(splitmix64(s.seed+uint64(j))%26)
	}
	if s.keys <= maxKeyTable {
		s.keyOff = make([]uint32, s.keys+1)
		for n := range s.keys {
			s.keyOff[n] = uint32(len(s.keyTable))
			s.keyTable = strconv.AppendUint(append(s.keyTable, "key-"...), n, 10)
		}
		s.keyOff[s.keys] = uint32(len(s.keyTable))
	}
	return s, nil
}

// parseStartTime reads the startTime option: an integer of ms, or an RFC 3339
// string.
func parseStartTime(raw json.RawMessage) (int64, error) {
	if raw[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, err
		}
		t, err := time.Parse(time.RFC3339Nano, str)
		if err != nil {
			return 0, fmt.Errorf("%q is not an RFC 3339 time: %v", str, err)
		}
		return t.UnixMilli(), nil
	}
	var ms int64
	if err := json.Unmarshal(raw, &ms); err != nil {
		return 0, fmt.Errorf("%s is not an integer of milliseconds or an RFC 3339 string", raw)
	}
	if ms == abi.NoTimestamp {
		return 0, fmt.Errorf("%d is abi.NoTimestamp", ms)
	}
	return ms, nil
}

// splitmix64 is one step of SplitMix64 (Steele, Lea and Flood, 2014) from the
// state x: what next() of the reference splitmix64.c returns when its state is
// x, and what Java's new SplittableRandom(x).nextLong() returns.
func splitmix64(x uint64) uint64 {
	z := x + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Record returns the record with index i as the generator produces it (even
// for an i at or beyond count). Tests use it to compute the expected output of
// a job; it allocates.
func (s *Source) Record(i uint64) (key, value []byte, timestamp int64) {
	key = strconv.AppendUint([]byte("key-"), splitmix64(s.seed^i)%s.keys, 10)
	value = s.appendValue(nil, i)
	return key, value, s.startTime + int64(i)*s.timeStep
}

// appendValue appends the value of record i: its index as 20 decimal digits,
// then the filler, cut to valueBytes (the last valueBytes digits when
// valueBytes < 20).
func (s *Source) appendValue(dst []byte, i uint64) []byte {
	var d [indexDigits]byte
	putDigits(&d, i)
	if s.valueBytes < indexDigits {
		return append(dst, d[indexDigits-s.valueBytes:]...)
	}
	dst = append(dst, d[:]...)
	return append(dst, s.filler[indexDigits:]...)
}

// putDigits writes i as 20 zero-padded decimal digits.
func putDigits(d *[indexDigits]byte, i uint64) {
	for k := indexDigits - 1; k >= 0; k-- {
		d[k] = '0' + byte(i%10)
		i /= 10
	}
}

// SplitID returns the id of split s of n: "split-<s>-of-<n>". The count is
// part of the id so that a checkpoint of a job with another number of splits
// does not resume the wrong records.
func SplitID(s, n int) string { return fmt.Sprintf("split-%d-of-%d", s, n) }

// Splits returns the ids of the splits option's splits, in order.
func (s *Source) Splits(ctx context.Context) ([]string, error) {
	ids := make([]string, s.splits)
	for i := range ids {
		ids[i] = SplitID(i, int(s.splits))
	}
	return ids, nil
}

// Open starts split at position (nil: at its first record). A position is the
// big-endian 8-byte index of the split's next record.
func (s *Source) Open(ctx context.Context, split string, position []byte, env runtime.SourceEnv) (runtime.SplitReader, error) {
	var sp int
	if _, err := fmt.Sscanf(split, "split-%d-of-", &sp); err != nil || sp < 0 || uint64(sp) >= s.splits || SplitID(sp, int(s.splits)) != split {
		return nil, fmt.Errorf("datagen source: split %q is not one of this source's %d splits (%q...)", split, s.splits, SplitID(0, int(s.splits)))
	}
	next := uint64(sp)
	switch len(position) {
	case 0:
	case 8:
		next = binary.BigEndian.Uint64(position)
		if next < uint64(sp) || (next-uint64(sp))%s.splits != 0 || next > math.MaxInt64 {
			return nil, fmt.Errorf("datagen source: split %q: position %d is not a record index of this split", split, next)
		}
	default:
		return nil, fmt.Errorf("datagen source: split %q: position of %d bytes, want 8", split, len(position))
	}
	r := &reader{
		src:     s,
		next:    next,
		ts:      s.startTime + int64(next)*s.timeStep,
		tsStep:  s.timeStep * int64(s.splits),
		key:     append(make([]byte, 0, 24), "key-"...),
		clock:   env.Clock,
		perRead: s.rate / float64(s.splits),
	}
	if r.clock == nil {
		r.clock = runtime.SystemClock{}
	}
	r.opened = r.clock.Now()
	// The value buffer holds the 20 index digits, then the filler.
	r.val = make([]byte, max(indexDigits, s.valueBytes))
	copy(r.val[indexDigits:], s.filler[min(indexDigits, len(s.filler)):])
	putDigits((*[indexDigits]byte)(r.val), next)
	r.lo, r.hi = 0, s.valueBytes
	if s.valueBytes < indexDigits {
		r.lo, r.hi = indexDigits-s.valueBytes, indexDigits
	}
	var inc [indexDigits]byte
	putDigits(&inc, s.splits)
	for k, d := range inc {
		r.inc[k] = d - '0'
	}
	r.incFrom = indexDigits - len(strconv.FormatUint(s.splits, 10))
	return r, nil
}

// reader produces one split. val[lo:hi] is the value of record next, whose
// first 20 bytes are next in decimal, kept up to date by adding splits digit by
// digit (cheaper than formatting each index).
type reader struct {
	src     *Source
	next    uint64 // index of the next record
	ts      int64  // its timestamp
	tsStep  int64
	key     []byte
	val     []byte
	lo, hi  int
	inc     [indexDigits]byte // splits as digit values 0..9
	incFrom int               // first non-zero digit of inc

	clock    runtime.Clock
	opened   time.Time
	produced float64 // records returned since Open
	perRead  float64 // records/s of this split; 0: unlimited
}

// Read appends up to maxRecords records (at most maxReadRecords). When the rate limit holds the split
// back it sleeps at most maxIdleWait and returns 0. At count it returns
// io.EOF.
func (r *reader) Read(ctx context.Context, w *abi.Writer, maxRecords int) (int, error) {
	s := r.src
	limit := min(maxRecords, maxReadRecords)
	if s.count > 0 {
		if r.next >= s.count {
			return 0, io.EOF
		}
		limit = int(min(uint64(limit), (s.count-r.next+s.splits-1)/s.splits))
	}
	if r.perRead > 0 {
		elapsed := r.clock.Now().Sub(r.opened).Seconds()
		allowed := math.Floor(elapsed*r.perRead) - r.produced
		if allowed < 1 {
			wait := time.Duration((r.produced + 1 - elapsed*r.perRead) / r.perRead * float64(time.Second))
			runtime.Sleep(ctx, min(wait, maxIdleWait))
			return 0, nil
		}
		limit = int(min(float64(limit), allowed))
	}
	w.Grow(limit * (abi.EntryHeaderSize + len(r.key) + 20 + r.hi - r.lo))
	seed, keys, step := s.seed, s.keys, s.splits
	table, off := s.keyTable, s.keyOff
	for range limit {
		n := splitmix64(seed^r.next) % keys
		var key []byte
		if off != nil {
			key = table[off[n]:off[n+1]]
		} else {
			r.key = strconv.AppendUint(r.key[:4], n, 10)
			key = r.key
		}
		w.Append(abi.Entry{Key: key, Value: r.val[r.lo:r.hi], Timestamp: r.ts})
		r.next += step
		r.ts += r.tsStep
		r.addSplits()
	}
	r.produced += float64(limit)
	if s.count > 0 && r.next >= s.count {
		return limit, io.EOF
	}
	return limit, nil
}

// addSplits adds splits to the decimal index at the start of val.
func (r *reader) addSplits() {
	var carry byte
	for k := indexDigits - 1; k >= 0; k-- {
		if k < r.incFrom && carry == 0 {
			return
		}
		d := r.val[k] - '0' + r.inc[k] + carry
		carry = 0
		if d >= 10 {
			d -= 10
			carry = 1
		}
		r.val[k] = '0' + d
	}
}

// Position returns the index of the split's next record (8 bytes, big-endian).
func (r *reader) Position() []byte { return binary.BigEndian.AppendUint64(nil, r.next) }

// Close does nothing: a reader holds no resources.
func (r *reader) Close() error { return nil }
