package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
	"github.com/weirstream/weir/runtime/jobspec"
)

// ModuleLoader compiles and validates Wasm modules: the Wasm host, given by the
// composition root.
type ModuleLoader interface {
	// Load checks that wasm is a Weir ABI operator module (ABI version,
	// exports, imports, memory declarations) and returns the factory of its
	// instances under the limits. name is used in errors.
	Load(ctx context.Context, name string, wasm []byte, lim jobspec.ModuleLimits) (runtime.OperatorFactory, error)
}

// moduleMeta is a stored module's record (modules/<hex>.json).
type moduleMeta struct {
	Digest        string   `json:"digest"`
	Names         []string `json:"names"`
	SizeBytes     int64    `json:"sizeBytes"`
	ABIVersion    int      `json:"abiVersion"`
	CreatedUnixMs int64    `json:"createdUnixMs"`
}

// modules is the module store on the catalog.
type modules struct {
	cat    runtime.SnapshotStore
	loader ModuleLoader
	mu     sync.Mutex // serializes writes of metadata and names
}

func hexOf(digest string) string { return strings.TrimPrefix(digest, "sha256:") }

func wasmObject(digest string) string { return "modules/" + hexOf(digest) + ".wasm" }
func metaObject(digest string) string { return "modules/" + hexOf(digest) + ".json" }
func nameObject(name string) string   { return "names/" + name }

// errValidation marks a module that failed validation (InvalidArgument).
type validationError struct{ err error }

func (e *validationError) Error() string { return e.err.Error() }
func (e *validationError) Unwrap() error { return e.err }

// put validates wasm and stores it under name. It stores nothing for a module
// that fails validation.
func (s *modules) put(ctx context.Context, name string, wasm []byte, now time.Time) (*moduleMeta, bool, error) {
	sum := sha256.Sum256(wasm)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	f, err := s.loader.Load(ctx, name, wasm, jobspec.ModuleLimits{})
	if err != nil {
		return nil, false, &validationError{err}
	}
	closeFactory(f)
	s.mu.Lock()
	defer s.mu.Unlock()
	meta, err := s.meta(ctx, digest)
	created := false
	switch {
	case errors.Is(err, runtime.ErrNotExist):
		created = true
		meta = &moduleMeta{Digest: digest, SizeBytes: int64(len(wasm)), ABIVersion: abi.Version, CreatedUnixMs: now.UnixMilli()}
		if err := s.cat.Put(ctx, wasmObject(digest), bytes.NewReader(wasm)); err != nil {
			return nil, false, fmt.Errorf("store module: %w", err)
		}
	case err != nil:
		return nil, false, err
	}
	if !slices.Contains(meta.Names, name) {
		meta.Names = append(meta.Names, name)
	}
	if err := putJSON(ctx, s.cat, metaObject(digest), meta); err != nil {
		return nil, false, err
	}
	// The name points at the newest module pushed under it; the metadata of
	// the module it pointed at before keeps the name in its history.
	if err := s.cat.Put(ctx, nameObject(name), strings.NewReader(digest)); err != nil {
		return nil, false, err
	}
	return meta, created, nil
}

func closeFactory(f runtime.OperatorFactory) {
	switch c := f.(type) {
	case interface{ Close(context.Context) error }:
		c.Close(context.Background())
	case io.Closer:
		c.Close()
	}
}

func (s *modules) meta(ctx context.Context, digest string) (*moduleMeta, error) {
	var m moduleMeta
	if err := getJSON(ctx, s.cat, metaObject(digest), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// resolve turns a module name or digest into the digest. An unknown module
// gives an error wrapping runtime.ErrNotExist.
func (s *modules) resolve(ctx context.Context, ref string) (string, error) {
	if err := checkModuleRef(ref); err != nil {
		return "", &validationError{err}
	}
	if digestRE.MatchString(ref) {
		if _, err := s.meta(ctx, ref); err != nil {
			if errors.Is(err, runtime.ErrNotExist) {
				return "", notFound{fmt.Errorf("no module %s is stored", ref)}
			}
			return "", err
		}
		return ref, nil
	}
	data, err := readAll(ctx, s.cat, nameObject(ref))
	if err != nil {
		if errors.Is(err, runtime.ErrNotExist) {
			return "", notFound{fmt.Errorf("no module is named %q (push it first: weir module push FILE --name %s)", ref, ref)}
		}
		return "", err
	}
	return string(data), nil
}

func (s *modules) wasm(ctx context.Context, digest string) ([]byte, error) {
	return readAll(ctx, s.cat, wasmObject(digest))
}

func (s *modules) list(ctx context.Context) ([]*moduleMeta, error) {
	names, err := s.cat.List(ctx, "modules/")
	if err != nil {
		return nil, err
	}
	var out []*moduleMeta
	for _, n := range names {
		if !strings.HasSuffix(n, ".json") {
			continue
		}
		m, err := s.meta(ctx, "sha256:"+strings.TrimSuffix(strings.TrimPrefix(n, "modules/"), ".json"))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// delete removes a module and the names that point at it.
func (s *modules) delete(ctx context.Context, m *moduleMeta) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range m.Names {
		if d, err := readAll(ctx, s.cat, nameObject(n)); err == nil && string(d) == m.Digest {
			if err := s.cat.Delete(ctx, nameObject(n)); err != nil {
				return err
			}
		}
	}
	if err := s.cat.Delete(ctx, metaObject(m.Digest)); err != nil {
		return err
	}
	return s.cat.Delete(ctx, wasmObject(m.Digest))
}

// Catalog helpers.

// maxRecordBytes bounds a catalog record read back (job records hold a spec).
const maxRecordBytes = 8 << 20

func readAll(ctx context.Context, cat runtime.SnapshotStore, name string) ([]byte, error) {
	r, err := cat.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, maxModuleBytesCap+1))
}

func putJSON(ctx context.Context, cat runtime.SnapshotStore, name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return cat.Put(ctx, name, bytes.NewReader(data))
}

func getJSON(ctx context.Context, cat runtime.SnapshotStore, name string, v any) error {
	data, err := readAll(ctx, cat, name)
	if err != nil {
		return err
	}
	if len(data) > maxRecordBytes {
		return fmt.Errorf("catalog record %s is larger than %d bytes", name, maxRecordBytes)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("catalog record %s: %w", name, err)
	}
	return nil
}

// maxModuleBytesCap is the largest module size the server can be configured
// to accept.
const maxModuleBytesCap = 1 << 30

var errNotFound = errors.New("not found")

// notFound marks an error about an unknown module, job or operator (NotFound).
type notFound struct{ error }

func (notFound) Is(target error) bool { return target == errNotFound }
func (e notFound) Unwrap() error      { return e.error }
