package nexmark

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

const (
	// maxReadRecords bounds the records of one Read, whatever maxRecords says,
	// so that a Read of an unbounded split stays short.
	maxReadRecords = 1 << 16
	// maxIdleWait bounds how long Read sleeps when the rate limit holds it back.
	maxIdleWait = time.Millisecond
	// positionBytes is the length of a split position.
	positionBytes = 8
)

// Source is the Nexmark generator as a replayable runtime.Source (see doc.go).
// It is safe for concurrent use; its readers are not.
type Source struct {
	g *Generator
}

var _ runtime.Source = (*Source)(nil)

// NewSource returns the source that the JSON options opts describe; baseDir
// is unused. It is the factory the composition root registers under the kind
// "nexmark". An unknown option or a bad value gives an error naming the
// option.
func NewSource(opts json.RawMessage, baseDir string) (runtime.Source, error) {
	cfg, err := ParseOptions(opts)
	if err != nil {
		return nil, err
	}
	return NewSourceFromConfig(cfg)
}

// NewSourceFromConfig returns the source of cfg, or the errors of
// cfg.Validate.
func NewSourceFromConfig(cfg Config) (*Source, error) {
	g, err := NewGenerator(cfg)
	if err != nil {
		return nil, err
	}
	return &Source{g: g}, nil
}

// Generator returns the source's generator, which makes any event directly
// (for tests that compute the output a job should commit).
func (s *Source) Generator() *Generator { return s.g }

// SplitID returns the id of split s of n: "nexmark-<s>-of-<n>". The count is
// part of the id so that a checkpoint of a job with another number of splits
// cannot resume the wrong events.
func SplitID(s, n int) string { return "nexmark-" + strconv.Itoa(s) + "-of-" + strconv.Itoa(n) }

// Splits returns the ids of the source's splits, in order.
func (s *Source) Splits(ctx context.Context) ([]string, error) {
	ids := make([]string, s.g.cfg.Splits)
	for i := range ids {
		ids[i] = SplitID(i, len(ids))
	}
	return ids, nil
}

// parseSplit returns the index of split id, or an error naming the splits the
// source has.
func (s *Source) parseSplit(id string) (int, error) {
	n := s.g.cfg.Splits
	rest, ok := strings.CutPrefix(id, "nexmark-")
	idx, _, _ := strings.Cut(rest, "-of-")
	sp, err := strconv.Atoi(idx)
	if !ok || err != nil || sp < 0 || sp >= n || SplitID(sp, n) != id {
		return 0, fmt.Errorf("nexmark source: split %q is not one of this source's %d splits (%q...)", id, n, SplitID(0, n))
	}
	return sp, nil
}

// Open starts split at position (nil: at its first event). A position is the
// event number of the split's next event, 8 bytes big-endian.
func (s *Source) Open(ctx context.Context, split string, position []byte, env runtime.SourceEnv) (runtime.SplitReader, error) {
	sp, err := s.parseSplit(split)
	if err != nil {
		return nil, err
	}
	cfg := &s.g.cfg
	next := int64(sp)
	switch len(position) {
	case 0:
	case positionBytes:
		u := binary.BigEndian.Uint64(position)
		if u > math.MaxInt64 || int64(u) < int64(sp) || (int64(u)-int64(sp))%int64(cfg.Splits) != 0 ||
			(cfg.Events > 0 && int64(u) > cfg.Events+int64(cfg.Splits)) {
			return nil, fmt.Errorf("nexmark source: split %q: position %d is not an event number of this split", split, u)
		}
		next = int64(u)
	default:
		return nil, fmt.Errorf("nexmark source: split %q: position of %d bytes, want %d", split, len(position), positionBytes)
	}
	r := &reader{g: s.g, next: next, step: int64(cfg.Splits), end: cfg.Events, clock: env.Clock}
	if r.end == 0 {
		r.end = math.MaxInt64
	}
	if cfg.RateLimited {
		r.perSecond = float64(cfg.EventsPerSecond) / float64(cfg.Splits)
	}
	if r.clock == nil {
		r.clock = runtime.SystemClock{}
	}
	r.opened = r.clock.Now()
	return r, nil
}

// reader produces one split: the events next, next+step, ... below end.
type reader struct {
	g    *Generator
	next int64 // event number of the next event
	step int64 // the number of splits
	end  int64 // events; MaxInt64 when unbounded
	key  [8]byte

	clock     runtime.Clock
	opened    time.Time
	produced  float64 // events returned since Open
	perSecond float64 // events/s of this split; 0: unlimited
}

// Read appends up to maxRecords events (at most maxReadRecords). When the
// rate limit holds the split back it sleeps at most maxIdleWait and returns
// 0. After the split's last event it returns io.EOF.
func (r *reader) Read(ctx context.Context, w *abi.Writer, maxRecords int) (int, error) {
	if r.next >= r.end {
		return 0, io.EOF
	}
	limit := int64(min(maxRecords, maxReadRecords))
	limit = min(limit, (r.end-r.next+r.step-1)/r.step)
	if r.perSecond > 0 {
		elapsed := r.clock.Now().Sub(r.opened).Seconds()
		allowed := math.Floor(elapsed*r.perSecond) - r.produced
		if allowed < 1 {
			wait := time.Duration((r.produced + 1 - elapsed*r.perSecond) / r.perSecond * float64(time.Second))
			runtime.Sleep(ctx, min(wait, maxIdleWait))
			return 0, nil
		}
		limit = min(limit, int64(allowed))
	}
	g := r.g
	for range limit {
		// The event is encoded straight into the batch, not into a scratch
		// buffer that would then be copied.
		ts := g.Timestamp(r.next)
		binary.BigEndian.PutUint64(r.key[:], uint64(r.next))
		b := w.BeginValue(abi.KindRecord, r.key[:], ts)
		w.EndValue(g.appendEvent(b, r.next, ts))
		r.next += r.step
	}
	r.produced += float64(limit)
	if r.next >= r.end {
		return int(limit), io.EOF
	}
	return int(limit), nil
}

// Position returns the event number of the split's next event, 8 bytes
// big-endian.
func (r *reader) Position() []byte { return binary.BigEndian.AppendUint64(nil, uint64(r.next)) }

// Close does nothing: a reader holds no resources.
func (r *reader) Close() error { return nil }
