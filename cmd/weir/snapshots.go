package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/weirstream/weir/plugins/s3"
	"github.com/weirstream/weir/runtime"
)

// snapshotFlags say where checkpoints go: the data directory (default) or an
// S3 bucket (--snapshots s3://BUCKET/PREFIX), which every process of a job
// can reach, so that a restart on another machine finds them.
type snapshotFlags struct {
	url       string
	endpoint  string
	insecure  bool
	region    string
	accessKey string
	secretKey string
}

func (f *snapshotFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "snapshots", os.Getenv("WEIR_SNAPSHOTS"), "keep checkpoints in s3://BUCKET/PREFIX instead of the data directory (env WEIR_SNAPSHOTS); the layout under PREFIX is that of DATA_DIR (jobs/JOB/snapshots/...)")
	fs.StringVar(&f.endpoint, "s3-endpoint", os.Getenv("WEIR_S3_ENDPOINT"), "host:port of the S3 API for -snapshots (env WEIR_S3_ENDPOINT)")
	fs.BoolVar(&f.insecure, "s3-insecure", false, "talk to -s3-endpoint over http instead of https")
	fs.StringVar(&f.region, "s3-region", "", "region of the -snapshots bucket (default: discovered)")
	fs.StringVar(&f.accessKey, "s3-access-key", "", "S3 access key (default: env "+s3.EnvAccessKey+")")
	fs.StringVar(&f.secretKey, "s3-secret-key", "", "S3 secret key (default: env "+s3.EnvSecretKey+", which keeps it out of the process list)")
}

// root returns the S3 store at the -snapshots URL, checked to be reachable,
// or nil when checkpoints stay in the data directory.
func (f *snapshotFlags) root(ctx context.Context) (*s3.Store, error) {
	if f.url == "" {
		if f.endpoint != "" {
			return nil, fmt.Errorf("%w: -s3-endpoint is set but -snapshots is not", errUsage)
		}
		return nil, nil
	}
	bucket, prefix, err := s3.ParseURL(f.url)
	if err != nil {
		return nil, fmt.Errorf("%w: -snapshots: %v", errUsage, err)
	}
	if f.endpoint == "" {
		return nil, fmt.Errorf("%w: -snapshots %s needs -s3-endpoint", errUsage, f.url)
	}
	st, err := s3.NewStore(s3.Conn{Endpoint: f.endpoint, Insecure: f.insecure, Region: f.region, AccessKey: f.accessKey, SecretKey: f.secretKey}, bucket, prefix)
	if err != nil {
		return nil, fmt.Errorf("-snapshots: %w", err)
	}
	if err := st.Check(ctx); err != nil {
		return nil, fmt.Errorf("-snapshots: %w", err)
	}
	return st, nil
}

// opener returns the function that opens the snapshot store of a directory
// under dataDir: the local directory, or with -snapshots the same relative
// path under the bucket's prefix. Directories outside dataDir (a savepoint
// exported elsewhere) stay local.
func (f *snapshotFlags) opener(ctx context.Context, dataDir string) (func(dir string) (runtime.SnapshotStore, error), error) {
	root, err := f.root(ctx)
	if err != nil {
		return nil, err
	}
	absData, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	return func(dir string) (runtime.SnapshotStore, error) {
		if root != nil {
			abs, err := filepath.Abs(dir)
			if err != nil {
				return nil, err
			}
			rel, err := filepath.Rel(absData, abs)
			if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				return root.Sub(filepath.ToSlash(rel)), nil
			}
		}
		return openStore(dir)
	}, nil
}
