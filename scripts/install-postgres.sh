#!/usr/bin/env bash
# Installs the PostgreSQL server that the postgres connector's tests start
# (plugins/postgres/pgtest runs initdb and postgres from
# /usr/lib/postgresql/<version>/bin into a temporary directory; nothing runs as
# a system service). Idempotent: it installs Debian's package postgresql only
# when no server binary is there, and does nothing otherwise.
set -euo pipefail

if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
	exit 0
fi
echo "install-postgres: installing postgresql" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
# NB: the package starts a cluster as a service; the tests do not use it.
$SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
