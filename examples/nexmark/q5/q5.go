package q5

import (
	"encoding/binary"
	"fmt"

	"github.com/weirstream/weir/examples/nexmark/internal/pair"
	"github.com/weirstream/weir/examples/nexmark/results"
	"github.com/weirstream/weir/plugins/nexmark/events"
	weir "github.com/weirstream/weir/sdk/go"
)

// Window size and slide in ms.
const (
	WindowMillis = 10_000
	SlideMillis  = 2_000
	// panesPerWindow is how many slides a window spans.
	panesPerWindow = WindowMillis / SlideMillis
)

// pane is one pane's bid count.
type pane struct{ Start, Count int64 }

// maxInlinePanes is how many panes the state codec decodes without
// allocating: an auction has panesPerWindow live panes at most, plus those
// ahead of the watermark.
const maxInlinePanes = panesPerWindow + 3

// paneList is an auction's live panes, in start order.
type paneList struct {
	n      int
	inline [maxInlinePanes]pane
	more   []pane
}

func (l *paneList) at(i int) *pane {
	if i < maxInlinePanes {
		return &l.inline[i]
	}
	return &l.more[i-maxInlinePanes]
}

func (l *paneList) add(p pane) {
	if l.n < maxInlinePanes {
		l.inline[l.n] = p
	} else {
		l.more = append(l.more, p)
	}
	l.n++
}

// paneCodec encodes a paneList as 16 bytes per pane, little-endian.
type paneCodec struct{}

func (*paneCodec) Append(dst []byte, l paneList) ([]byte, error) {
	for i := range l.n {
		p := l.at(i)
		dst = le.AppendUint64(le.AppendUint64(dst, uint64(p.Start)), uint64(p.Count))
	}
	return dst, nil
}

func (*paneCodec) Decode(b []byte) (paneList, error) {
	var l paneList
	if len(b)%16 != 0 {
		return l, fmt.Errorf("q5 panes state of %d bytes, not a multiple of 16", len(b))
	}
	for ; len(b) > 0; b = b[16:] {
		l.add(pane{int64(le.Uint64(b)), int64(le.Uint64(b[8:]))})
	}
	return l, nil
}

// panes holds an auction's bid count per pane. NB: one value per auction
// rather than a map state: a window then reads it with one state access, and
// never looks up a pane that is not there (a miss goes down to Pebble).
var panes = weir.NewValueState[paneList]("panes", &paneCodec{})

// Count counts the bids of its key (an auction) per pane, and emits the count
// of each window that holds one of its panes (a results.Q5, keyed by the
// window start) when the watermark passes the window's end.
//
// The first bid of a pane sets the timers of the windows that hold it, but
// those another live pane set already. A window forgets the pane that no
// later window holds.
//
// NB: timers are set in Process only. The runtime fires due timers in
// batches and a timer of the batch being fired no longer exists for
// SetEventTimer, so a timer set from OnTimer at a time already due in the
// same batch would fire twice.
var Count = weir.Operator{
	Process: func(ctx *weir.Context, r weir.Record) error {
		start := pair.WindowStart(r.Timestamp, SlideMillis)
		l, _, err := panes.Get(ctx)
		if err != nil {
			return err
		}
		for i := range l.n {
			if p := l.at(i); p.Start == start {
				p.Count++
				return panes.Set(ctx, l)
			}
		}
		if err := setTimers(ctx, &l, start); err != nil {
			return err
		}
		// Insert the new pane in start order.
		l.add(pane{start, 1})
		for i := l.n - 1; i > 0 && l.at(i-1).Start > start; i-- {
			*l.at(i), *l.at(i - 1) = *l.at(i - 1), *l.at(i)
		}
		return panes.Set(ctx, l)
	},
	OnTimer: func(ctx *weir.Context, t weir.Timer) error {
		end := t.Time + 1
		start := end - WindowMillis
		l, found, err := panes.Get(ctx)
		if err != nil || !found {
			return err
		}
		var count int64
		var keep paneList
		for i := range l.n {
			p := l.at(i)
			if p.Start >= start && p.Start < end {
				count += p.Count
			}
			if p.Start > start { // no later window holds the others
				keep.add(*p)
			}
		}
		if keep.n == 0 {
			err = panes.Clear(ctx)
		} else if keep.n != l.n {
			err = panes.Set(ctx, keep)
		}
		if err != nil || count == 0 {
			return err
		}
		auction, _ := events.ParseKey(ctx.Key())
		key := events.Key(start)
		var buf [40]byte
		ctx.Emit(weir.Record{Key: key[:], Value: results.AppendQ5(buf[:0], results.Q5{WindowStart: start, WindowEnd: end, Auction: auction, Count: count})})
		return nil
	},
}

// setTimers sets the timers at the ends of the windows that hold the new pane
// at start, except those that a pane of l (the live panes before it) set:
// the windows that end within panesPerWindow slides of that pane's start.
func setTimers(ctx *weir.Context, l *paneList, start int64) error {
	for j := int64(1); j <= panesPerWindow; j++ {
		end := start + j*SlideMillis
		covered := false
		for i := range l.n {
			if q := l.at(i).Start; end > q && end <= q+WindowMillis {
				covered = true
				break
			}
		}
		if !covered {
			if err := ctx.SetEventTimer(end - 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// leaders is, for a window (the key), the highest count so far followed by
// the auctions that have it, 8 bytes little-endian each. NB: one value rather
// than a map of auctions, which would be cleared and scanned, and both cost
// the state backend a write-back of its cache.
var leaders = weir.NewValueState("leaders", weir.Bytes)

// Hot keeps, for its key (a window start), the highest count and the auctions
// that have it, and emits them as results.Q5 when the watermark passes the
// window's end (the timestamp of the counts, which Count stamps with it).
var Hot = weir.Operator{
	Process: func(ctx *weir.Context, r weir.Record) error {
		q, err := results.DecodeQ5(r.Value)
		if err != nil {
			return fmt.Errorf("q5 hot: %w", err)
		}
		l, found, err := leaders.Get(ctx)
		if err != nil {
			return err
		}
		switch {
		case !found:
			if err := ctx.SetEventTimer(q.WindowEnd - 1); err != nil {
				return err
			}
			fallthrough
		case q.Count > int64(le.Uint64(l)):
			l = le.AppendUint64(le.AppendUint64(l[:0], uint64(q.Count)), uint64(q.Auction))
		case q.Count == int64(le.Uint64(l)):
			l = le.AppendUint64(l, uint64(q.Auction))
		default:
			return nil
		}
		return leaders.Set(ctx, l)
	},
	OnTimer: func(ctx *weir.Context, t weir.Timer) error {
		l, found, err := leaders.Get(ctx)
		if err != nil || !found {
			return err
		}
		if len(l) < 16 || len(l)%8 != 0 {
			return fmt.Errorf("q5 hot: leaders state of %d bytes", len(l))
		}
		start, _ := events.ParseKey(ctx.Key())
		count := int64(le.Uint64(l))
		var buf [40]byte
		for a := l[8:]; len(a) >= 8; a = a[8:] {
			ctx.Emit(weir.Record{Key: ctx.Key(), Value: results.AppendQ5(buf[:0], results.Q5{WindowStart: start, WindowEnd: t.Time + 1, Auction: int64(le.Uint64(a)), Count: count})})
		}
		return leaders.Clear(ctx)
	},
}

var le = binary.LittleEndian
