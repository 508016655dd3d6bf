// Package miniotest starts a real MinIO server for tests: the binary that
// scripts/install-minio.sh builds and caches, on a free loopback port, with a
// data directory that survives Stop and Restart, so tests can take the store
// down in the middle of a job and bring it back. Tests skip, saying how to
// install it, when the binary is absent.
package miniotest
