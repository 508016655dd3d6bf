// Package pgtest runs a real, throwaway PostgreSQL server for tests: initdb
// into a temporary directory, postgres on a free loopback port with its unix
// socket in that directory, stopped and removed when the test ends. The server
// binaries come from the Debian package postgresql (scripts/install-postgres.sh
// installs it); tests skip with a message naming the script when they are
// missing.
//
// PostgreSQL refuses to run as root, so when the tests run as root the server
// binaries run as the system user "postgres" (or "nobody"), which then owns the
// temporary directory.
package pgtest
