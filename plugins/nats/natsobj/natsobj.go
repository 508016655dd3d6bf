// Package natsobj is a runtime.SnapshotStore on a NATS JetStream object
// store: the catalog of `weir server` (modules, names, job records) kept in
// NATS, where every JobManager of a cluster reads the same one, instead of
// in a local directory. Objects are split into chunks by nats.go; an object
// becomes visible when its metadata is written, after its last chunk, so a
// reader sees all of a Put or nothing, and a failed Put leaves the previous
// version.
package natsobj

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/weirstream/weir/runtime"
)

// DefaultBucket is the bucket name when none is given.
const DefaultBucket = "weir-catalog"

// Options configure the bucket.
type Options struct {
	// Bucket is the object store's name (default DefaultBucket).
	Bucket string
	// Replicas is its replication factor on a NATS cluster (default 1).
	Replicas int
	// MaxBytes caps the bucket's size (0: no cap but the server's).
	MaxBytes int64
}

// Store is a runtime.SnapshotStore on a JetStream object store. It is safe
// for concurrent use.
//
// NB: a Get that overlaps a Put replacing the same object may fail (the
// old chunks are purged under it); the catalog replaces only small records,
// and a caller retries.
type Store struct{ obj jetstream.ObjectStore }

var _ runtime.SnapshotStore = (*Store)(nil)

// Open creates the object store if it is missing (or updates its
// configuration) and returns it.
func Open(ctx context.Context, js jetstream.JetStream, opts Options) (*Store, error) {
	if opts.Bucket == "" {
		opts.Bucket = DefaultBucket
	}
	if opts.Replicas == 0 {
		opts.Replicas = 1
	}
	obj, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      opts.Bucket,
		Description: "Weir catalog: modules, names, job records",
		Storage:     jetstream.FileStorage,
		Replicas:    opts.Replicas,
		MaxBytes:    opts.MaxBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("natsobj: open bucket %s: %w", opts.Bucket, err)
	}
	return &Store{obj: obj}, nil
}

// Put implements runtime.SnapshotStore.
func (s *Store) Put(ctx context.Context, name string, r io.Reader) error {
	if err := checkName(name); err != nil {
		return err
	}
	if _, err := s.obj.Put(ctx, jetstream.ObjectMeta{Name: name}, r); err != nil {
		return fmt.Errorf("natsobj: put %s: %w", name, err)
	}
	return nil
}

// Get implements runtime.SnapshotStore.
func (s *Store) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("natsobj: get %q: %w", name, runtime.ErrNotExist)
	}
	r, err := s.obj.Get(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("natsobj: get %s: %w", name, runtime.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("natsobj: get %s: %w", name, err)
	}
	return r, nil
}

// List implements runtime.SnapshotStore.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	infos, err := s.obj.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("natsobj: list %s: %w", prefix, err)
	}
	var names []string
	for _, info := range infos {
		if !info.Deleted && strings.HasPrefix(info.Name, prefix) {
			names = append(names, info.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// Delete implements runtime.SnapshotStore.
func (s *Store) Delete(ctx context.Context, name string) error {
	if checkName(name) != nil {
		return nil // no such object can exist
	}
	err := s.obj.Delete(ctx, name)
	if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("natsobj: delete %s: %w", name, err)
	}
	return nil
}

// checkName accepts the names a directory store accepts: slash-separated,
// no empty, "." or ".." segment, so a catalog moves between stores intact.
func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") {
		return fmt.Errorf("natsobj: invalid object name %q", name)
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("natsobj: invalid object name %q: empty, . or .. segment", name)
		}
	}
	return nil
}
