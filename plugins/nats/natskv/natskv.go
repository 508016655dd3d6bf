// Package natskv backs the cluster's coordination (package runtime/coord)
// with a NATS JetStream key-value bucket: leader election, the checkpoint
// catalog and TaskManager membership all live in one bucket, and the KV
// revision (the stream sequence of a key's last write) is the
// compare-and-swap token. The bucket keeps one value per key (history 1) on
// file storage; with Replicas 3 on a NATS cluster it survives a server.
package natskv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/weirstream/weir/runtime/coord"
)

// DefaultBucket is the bucket name when none is given.
const DefaultBucket = "weir-coord"

// Options configure the bucket.
type Options struct {
	// Bucket is the bucket name (default DefaultBucket).
	Bucket string
	// Replicas is the bucket's replication factor on a NATS cluster
	// (default 1).
	Replicas int
}

// KV is a coord.KV on a JetStream bucket. It is safe for concurrent use.
type KV struct{ kv jetstream.KeyValue }

var _ coord.KV = (*KV)(nil)

// Open creates the bucket if it is missing (or updates its configuration)
// and returns it as a coord.KV.
func Open(ctx context.Context, js jetstream.JetStream, opts Options) (*KV, error) {
	if opts.Bucket == "" {
		opts.Bucket = DefaultBucket
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      opts.Bucket,
		Description: "Weir cluster coordination: leader, checkpoint catalog, members",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("natskv: open bucket %s: %w", opts.Bucket, err)
	}
	return &KV{kv: kv}, nil
}

// Get implements coord.KV.
func (k *KV) Get(ctx context.Context, key string) (coord.Entry, error) {
	e, err := k.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return coord.Entry{}, fmt.Errorf("natskv: get %s: %w", key, coord.ErrKeyNotFound)
	}
	if err != nil {
		return coord.Entry{}, fmt.Errorf("natskv: get %s: %w", key, err)
	}
	return coord.Entry{Value: e.Value(), Revision: e.Revision()}, nil
}

// Create implements coord.KV.
func (k *KV) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := k.kv.Create(ctx, key, value)
	if err != nil {
		return 0, k.mapErr("create", key, err)
	}
	return rev, nil
}

// Update implements coord.KV.
func (k *KV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	// NB: JetStream takes revision 0 as "the key has no value yet", which
	// coord.KV does not mean by it; no key is ever at revision 0.
	if rev == 0 {
		return 0, fmt.Errorf("natskv: update %s at revision 0: %w", key, coord.ErrConflict)
	}
	r, err := k.kv.Update(ctx, key, value, rev)
	if err != nil {
		return 0, k.mapErr("update", key, err)
	}
	return r, nil
}

// Delete implements coord.KV.
func (k *KV) Delete(ctx context.Context, key string, rev uint64) error {
	if rev == 0 {
		return fmt.Errorf("natskv: delete %s at revision 0: %w", key, coord.ErrConflict)
	}
	if err := k.kv.Delete(ctx, key, jetstream.LastRevision(rev)); err != nil {
		return k.mapErr("delete", key, err)
	}
	return nil
}

// Keys implements coord.KV.
func (k *KV) Keys(ctx context.Context, prefix string) ([]string, error) {
	filter := ">"
	if prefix != "" {
		// Keys are dot-separated tokens: a prefix ending in a dot is a
		// subject filter; anything else is filtered here.
		if strings.HasSuffix(prefix, ".") {
			filter = prefix + ">"
		}
	}
	l, err := k.kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("natskv: list %s: %w", prefix, err)
	}
	var keys []string
	for key := range l.Keys() {
		if strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// mapErr turns JetStream's revision errors into coord.ErrConflict.
func (k *KV) mapErr(op, key string, err error) error {
	var api *jetstream.APIError
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) ||
		(errors.As(err, &api) && (api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)) {
		return fmt.Errorf("natskv: %s %s: %w", op, key, coord.ErrConflict)
	}
	return fmt.Errorf("natskv: %s %s: %w", op, key, err)
}
