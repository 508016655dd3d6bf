package coord

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// maxSlots bounds the slots one TaskManager may offer.
const maxSlots = 1024

const membersPrefix = "members."

// ErrExpired is wrapped by Registration.Heartbeat when the registration is
// gone: the leader expired it after missed heartbeats, or another process
// registered the same id. The TaskManager must drop its subtasks (the leader
// has rescheduled them) and Register again.
var ErrExpired = errors.New("coord: registration expired")

// Member is a TaskManager as the cluster knows it.
type Member struct {
	ID string `json:"id"`
	// Addr is where its data exchange listens (host:port).
	Addr  string `json:"addr"`
	Slots int    `json:"slots"`
	// Session is a random id of this registration: a TaskManager that
	// restarts under the same ID has a new one, and whatever ran on the old
	// session is gone.
	Session string `json:"session"`
}

// Registration is a TaskManager's membership, kept alive by Heartbeat. Its
// methods are safe for concurrent use.
type Registration struct {
	kv  KV
	mu  sync.Mutex
	m   Member
	rev uint64
}

// Register makes m a member (with a new Session), replacing an earlier
// registration of the same id.
func Register(ctx context.Context, kv KV, m Member) (*Registration, error) {
	if err := checkID("taskmanager", m.ID); err != nil {
		return nil, err
	}
	if m.Slots < 1 || m.Slots > maxSlots {
		return nil, fmt.Errorf("coord: taskmanager %s offers %d slots: want 1 to %d", m.ID, m.Slots, maxSlots)
	}
	var b [8]byte
	rand.Read(b[:])
	m.Session = hex.EncodeToString(b[:])
	key := membersPrefix + m.ID
	for range maxCASAttempts {
		ent, err := kv.Get(ctx, key)
		var rev uint64
		switch {
		case errors.Is(err, ErrKeyNotFound):
			rev, err = kv.Create(ctx, key, mustJSON(m))
		case err != nil:
			return nil, fmt.Errorf("register taskmanager %s: %w", m.ID, err)
		default:
			rev, err = kv.Update(ctx, key, mustJSON(m), ent.Revision)
		}
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("register taskmanager %s: %w", m.ID, err)
		}
		return &Registration{kv: kv, m: m, rev: rev}, nil
	}
	return nil, fmt.Errorf("register taskmanager %s: %d conflicting writes in a row: %w", m.ID, maxCASAttempts, ErrConflict)
}

// Member returns the registered member.
func (r *Registration) Member() Member { return r.m }

// Heartbeat tells the cluster this member is alive. It fails with
// ErrExpired when the registration is gone (see ErrExpired); another error
// (the store unreachable) may pass with the next heartbeat.
func (r *Registration) Heartbeat(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rev, err := r.kv.Update(ctx, membersPrefix+r.m.ID, mustJSON(r.m), r.rev)
	if errors.Is(err, ErrConflict) {
		return fmt.Errorf("heartbeat of taskmanager %s session %s: %w", r.m.ID, r.m.Session, ErrExpired)
	}
	if err != nil {
		return fmt.Errorf("heartbeat of taskmanager %s: %w", r.m.ID, err)
	}
	r.rev = rev
	return nil
}

// Leave ends the membership at once (a clean shutdown), unless it is gone.
func (r *Registration) Leave(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.kv.Delete(ctx, membersPrefix+r.m.ID, r.rev)
	if err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("taskmanager %s leaves: %w", r.m.ID, err)
	}
	return nil
}

// MembershipConfig configures a Membership.
type MembershipConfig struct {
	// Timeout is how long a member's record may stay unchanged (no
	// heartbeat) before the member is expired. Heartbeat several times per
	// Timeout.
	Timeout time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Membership is the leader's view of the TaskManagers. It is safe for
// concurrent use.
type Membership struct {
	kv  KV
	cfg MembershipConfig

	mu   sync.Mutex
	seen map[string]observation
}

// observation is a member record as last seen, and when first seen so.
type observation struct {
	rev uint64
	at  time.Time
}

// NewMembership returns a view of the members registered in kv.
func NewMembership(kv KV, cfg MembershipConfig) (*Membership, error) {
	if cfg.Timeout <= 0 {
		return nil, fmt.Errorf("coord: membership timeout %v: want > 0", cfg.Timeout)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Membership{kv: kv, cfg: cfg, seen: map[string]observation{}}, nil
}

// Refresh reads the member records and returns the live members and those it
// expired in this call, each sorted by id. A member is live until its record
// has stayed at one revision for Timeout, measured by this view's clock from
// when it first saw that revision; then Refresh deletes the record (at that
// revision only: a heartbeat that has just landed wins) and reports the
// member expired.
//
// NB: a new view (a new leader) gives every member a whole Timeout.
func (ms *Membership) Refresh(ctx context.Context) (live, expired []Member, err error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	now := ms.cfg.Now()
	keys, err := ms.kv.Keys(ctx, membersPrefix)
	if err != nil {
		return nil, nil, fmt.Errorf("membership: list: %w", err)
	}
	present := map[string]bool{}
	for _, key := range keys {
		ent, err := ms.kv.Get(ctx, key)
		if errors.Is(err, ErrKeyNotFound) {
			continue // left since the listing
		}
		if err != nil {
			return nil, nil, fmt.Errorf("membership: read %s: %w", key, err)
		}
		var m Member
		if err := json.Unmarshal(ent.Value, &m); err != nil {
			return nil, nil, fmt.Errorf("membership: record %s at revision %d: %w", key, ent.Revision, err)
		}
		present[key] = true
		o, ok := ms.seen[key]
		if !ok || o.rev != ent.Revision {
			o = observation{rev: ent.Revision, at: now}
			ms.seen[key] = o
		}
		if now.Sub(o.at) < ms.cfg.Timeout {
			live = append(live, m)
			continue
		}
		switch err := ms.kv.Delete(ctx, key, ent.Revision); {
		case err == nil:
			delete(ms.seen, key)
			expired = append(expired, m)
		case errors.Is(err, ErrConflict):
			live = append(live, m) // a heartbeat came first
		default:
			return nil, nil, fmt.Errorf("membership: expire %s: %w", key, err)
		}
	}
	for key := range ms.seen {
		if !present[key] {
			delete(ms.seen, key)
		}
	}
	byID := func(a, b Member) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(live, byID)
	slices.SortFunc(expired, byID)
	return live, expired, nil
}
