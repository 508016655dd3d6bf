package q11

import (
	"encoding/binary"
	"fmt"

	"github.com/weirstream/weir/examples/nexmark/results"
	"github.com/weirstream/weir/plugins/nexmark/events"
	weir "github.com/weirstream/weir/sdk/go"
)

// GapMillis is the session gap in ms.
const GapMillis = 10_000

// session is one open session of a bidder: bids from Start to End - gap,
// Count of them. Armed is the time of the timer that will look at it: at most
// End - 1 (a session that grows keeps its timer, which re-arms at the new end
// when it fires, so that a bid costs no timer deletion).
type session struct {
	Start, End, Count, Armed int64
}

// maxInlineSessions is how many sessions the state codec decodes without
// allocating; a bidder rarely has more than one or two open.
const maxInlineSessions = 4

// sessions are a bidder's open sessions, in start order.
type sessions struct {
	n      int
	inline [maxInlineSessions]session
	more   []session // beyond maxInlineSessions
}

func (s *sessions) at(i int) *session {
	if i < maxInlineSessions {
		return &s.inline[i]
	}
	return &s.more[i-maxInlineSessions]
}

func (s *sessions) add(x session) {
	if s.n < maxInlineSessions {
		s.inline[s.n] = x
	} else {
		s.more = append(s.more, x)
	}
	s.n++
}

// sessionsCodec encodes sessions as 32 bytes each, little-endian.
type sessionsCodec struct{}

var le = binary.LittleEndian

func (*sessionsCodec) Append(dst []byte, s sessions) ([]byte, error) {
	for i := range s.n {
		x := s.at(i)
		dst = le.AppendUint64(dst, uint64(x.Start))
		dst = le.AppendUint64(dst, uint64(x.End))
		dst = le.AppendUint64(dst, uint64(x.Count))
		dst = le.AppendUint64(dst, uint64(x.Armed))
	}
	return dst, nil
}

func (*sessionsCodec) Decode(b []byte) (sessions, error) {
	var s sessions
	if len(b)%32 != 0 {
		return s, fmt.Errorf("q11 sessions state of %d bytes, not a multiple of 32", len(b))
	}
	for ; len(b) > 0; b = b[32:] {
		s.add(session{int64(le.Uint64(b)), int64(le.Uint64(b[8:])), int64(le.Uint64(b[16:])), int64(le.Uint64(b[24:]))})
	}
	return s, nil
}

var open = weir.NewValueState[sessions]("sessions", &sessionsCodec{})

// Operator counts the bids of each session of its key (a bidder) and emits a
// results.Q11 when the watermark passes the session's end - 1.
var Operator = weir.Operator{
	Process: func(ctx *weir.Context, r weir.Record) error {
		s, _, err := open.Get(ctx)
		if err != nil {
			return err
		}
		// The bid's window [t, t+gap) merges with every session it overlaps;
		// sessions never overlap each other, so one pass finds them all.
		t := r.Timestamp
		cur := session{Start: t, End: t + GapMillis, Count: 1}
		armed := false
		var keep sessions
		for i := range s.n {
			x := s.at(i)
			if t >= x.End || t+GapMillis <= x.Start {
				keep.add(*x)
				continue
			}
			cur.Start, cur.End, cur.Count = min(cur.Start, x.Start), max(cur.End, x.End), cur.Count+x.Count
			if !armed || x.Armed < cur.Armed {
				cur.Armed = x.Armed // keep the earliest timer of the merged sessions
			}
			armed = true
		}
		if !armed {
			cur.Armed = cur.End - 1
			if err := ctx.SetEventTimer(cur.Armed); err != nil {
				return err
			}
		}
		return open.Set(ctx, insertSorted(keep, cur))
	},
	OnTimer: func(ctx *weir.Context, t weir.Timer) error {
		s, found, err := open.Get(ctx)
		if err != nil || !found {
			return err
		}
		var out sessions
		for i := range s.n {
			x := *s.at(i)
			switch {
			case x.Armed != t.Time:
			case x.End-1 == t.Time:
				bidder, _ := events.ParseKey(ctx.Key())
				var buf [40]byte
				ctx.Emit(weir.Record{Key: ctx.Key(), Value: results.AppendQ11(buf[:0], results.Q11{Bidder: bidder, Count: x.Count, Start: x.Start, End: x.End})})
				continue
			default:
				x.Armed = x.End - 1
				if err := ctx.SetEventTimer(x.Armed); err != nil {
					return err
				}
			}
			out.add(x)
		}
		if out.n == 0 {
			return open.Clear(ctx)
		}
		return open.Set(ctx, out)
	},
}

// insertSorted returns s with x inserted in start order.
func insertSorted(s sessions, x session) sessions {
	var out sessions
	done := false
	for i := range s.n {
		if y := s.at(i); !done && x.Start < y.Start {
			out.add(x)
			done = true
		}
		out.add(*s.at(i))
	}
	if !done {
		out.add(x)
	}
	return out
}
