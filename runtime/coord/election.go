package coord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Epoch is a leader's fencing token: the number of the term it won. It only
// goes up, across every takeover and resignation.
type Epoch uint64

// leaderKey holds the leader record.
const leaderKey = "leader"

// leaseDriftPercent is how much shorter than Lease a leader counts its own
// lease, for clocks that run at slightly different rates.
const leaseDriftPercent = 10

// leaderRecord is the value under leaderKey.
type leaderRecord struct {
	// Holder is the leading candidate, "" when the last one resigned.
	Holder string `json:"holder"`
	Epoch  Epoch  `json:"epoch"`
}

// ElectionConfig configures an Elector.
type ElectionConfig struct {
	// Candidate is this process's id, unique among the candidates.
	Candidate string
	// Lease is how long a term lasts without a renewal: a standby takes over
	// once it has seen the leader record unchanged for this long. Tick
	// several times per lease (every Lease/3, say).
	Lease time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Leadership is what an Elector knows after a Tick.
type Leadership struct {
	// Leader is the candidate that holds the leader record ("" for none).
	Leader string
	// Epoch is the leader's term.
	Epoch Epoch
	// Self is true when this candidate leads, until ValidUntil by its clock.
	Self       bool
	ValidUntil time.Time
}

// Elector is one candidate of the leader election. Its methods are safe for
// concurrent use; Tick calls are serialized.
type Elector struct {
	kv  KV
	cfg ElectionConfig

	mu     sync.Mutex
	seen   leaderRecord
	seenAt time.Time // when this candidate first saw seenRev
	// seenRev is the revision of the leader record as last read or written.
	seenRev uint64
	// ownRev is the revision this candidate last wrote as leader (0: not
	// leading); epoch and validUntil are its term and lease.
	ownRev     uint64
	epoch      Epoch
	validUntil time.Time
}

// NewElector returns a candidate that takes part in the election in kv.
func NewElector(kv KV, cfg ElectionConfig) (*Elector, error) {
	if err := checkID("candidate", cfg.Candidate); err != nil {
		return nil, err
	}
	if cfg.Lease <= 0 {
		return nil, fmt.Errorf("coord: election lease %v: want > 0", cfg.Lease)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Elector{kv: kv, cfg: cfg}, nil
}

// Tick runs one round of the election: the leader renews its lease; a
// standby takes over (with the next epoch) when the record is released or
// when it has seen it unchanged for a whole Lease. An error leaves the
// leader's lease to run out by the clock unless a later Tick renews it.
func (e *Elector) Tick(ctx context.Context) (Leadership, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	// NB: the lease counts from before the renewal is sent, so it ends, by
	// this clock, before any standby's view of it.
	now := e.cfg.Now()
	ent, err := e.kv.Get(ctx, leaderKey)
	if errors.Is(err, ErrKeyNotFound) {
		// The first election of this store.
		rec := leaderRecord{Holder: e.cfg.Candidate, Epoch: 1}
		rev, err := e.kv.Create(ctx, leaderKey, mustJSON(rec))
		if err != nil {
			return e.status(now), ignoreConflict(err)
		}
		e.win(rec, rev, now)
		return e.status(now), nil
	}
	if err != nil {
		return e.status(now), fmt.Errorf("election: read leader record: %w", err)
	}
	var rec leaderRecord
	if err := json.Unmarshal(ent.Value, &rec); err != nil {
		return e.status(now), fmt.Errorf("election: leader record at revision %d: %w", ent.Revision, err)
	}
	if ent.Revision != e.seenRev {
		e.seen, e.seenRev, e.seenAt = rec, ent.Revision, now
	}
	mine := rec.Holder == e.cfg.Candidate
	switch {
	case mine && e.ownRev == ent.Revision:
		rev, err := e.kv.Update(ctx, leaderKey, ent.Value, ent.Revision)
		if err != nil {
			if errors.Is(err, ErrConflict) {
				e.lose()
			}
			return e.status(now), ignoreConflict(err)
		}
		e.ownRev, e.seenRev, e.validUntil = rev, rev, e.leaseEnd(now)
		return e.status(now), nil
	case mine, rec.Holder == "", now.Sub(e.seenAt) >= e.cfg.Lease:
		// A record of ours we did not write in this term (a restart of this
		// candidate, or a renewal whose answer was lost), a released record,
		// or a leader silent for a whole lease: take the next term.
		e.lose()
		next := leaderRecord{Holder: e.cfg.Candidate, Epoch: rec.Epoch + 1}
		rev, err := e.kv.Update(ctx, leaderKey, mustJSON(next), ent.Revision)
		if err != nil {
			return e.status(now), ignoreConflict(err)
		}
		e.win(next, rev, now)
		return e.status(now), nil
	default:
		e.lose()
		return e.status(now), nil
	}
}

// Leading returns this candidate's epoch while it leads, by its own clock:
// false once its lease has run out, even before a Tick learns of a new
// leader. The epoch is what fenced writes ([Catalog.Complete]) present.
//
// NB: it waits for a Tick in progress (which may wait for the store).
func (e *Elector) Leading() (Epoch, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ownRev == 0 || !e.cfg.Now().Before(e.validUntil) {
		return 0, false
	}
	return e.epoch, true
}

// Resign ends this candidate's term at once, so that a standby takes over at
// its next Tick rather than after a lease. The epoch stays in the record.
func (e *Elector) Resign(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ownRev == 0 {
		return nil
	}
	rev, epoch := e.ownRev, e.epoch
	e.lose()
	_, err := e.kv.Update(ctx, leaderKey, mustJSON(leaderRecord{Epoch: epoch}), rev)
	if err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("election: resign: %w", err)
	}
	return nil
}

func (e *Elector) win(rec leaderRecord, rev uint64, now time.Time) {
	e.seen, e.seenRev, e.seenAt = rec, rev, now
	e.ownRev, e.epoch, e.validUntil = rev, rec.Epoch, e.leaseEnd(now)
}

func (e *Elector) lose() { e.ownRev, e.epoch, e.validUntil = 0, 0, time.Time{} }

func (e *Elector) leaseEnd(now time.Time) time.Time {
	return now.Add(e.cfg.Lease * (100 - leaseDriftPercent) / 100)
}

func (e *Elector) status(now time.Time) Leadership {
	l := Leadership{Leader: e.seen.Holder, Epoch: e.seen.Epoch}
	if e.ownRev != 0 && now.Before(e.validUntil) {
		l.Self, l.ValidUntil = true, e.validUntil
	}
	return l
}

// ignoreConflict drops ErrConflict: losing a race is an answer, not an error.
func ignoreConflict(err error) error {
	if errors.Is(err, ErrConflict) {
		return nil
	}
	return err
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("coord: encode %T: %v", v, err))
	}
	return b
}
