#!/usr/bin/env bash
# Builds the MinIO server that the S3 tests start (plugins/s3/miniotest), from
# its Go module, once: into $HOME/.cache/weir/bin/minio (override the
# directory with WEIR_BIN_CACHE, the version with MINIO_VERSION). Idempotent:
# it does nothing when the binary is already there. The first build takes
# about ten minutes on a 2-core machine; MinIO is not packaged by Debian.
set -euo pipefail

bin_dir="${WEIR_BIN_CACHE:-$HOME/.cache/weir/bin}"
version="${MINIO_VERSION:-latest}"
if [ -x "$bin_dir/minio" ]; then
	exit 0
fi
mkdir -p "$bin_dir"
echo "install-minio: building github.com/minio/minio@$version into $bin_dir (once; several minutes)" >&2
GOBIN="$bin_dir" go install "github.com/minio/minio@$version"
"$bin_dir/minio" --version >/dev/null
