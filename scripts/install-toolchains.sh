#!/usr/bin/env bash
# Installs what building the non-Go Wasm guests needs, from Debian's packages:
# rustc with the wasm32 standard library (Rust 1.63 on Debian 12), clang and lld
# for C guests, and Chromium for the dashboard's browser test (driven headless
# over the DevTools protocol; no browser download). Idempotent: it installs only what is missing, and does nothing
# when everything is there. Go guests need nothing but Go.
set -euo pipefail

need=()
[ -x /usr/bin/rustc ] || need+=(rustc)
ls /usr/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib >/dev/null 2>&1 || need+=(libstd-rust-dev-wasm32)
command -v clang >/dev/null 2>&1 || need+=(clang)
command -v wasm-ld >/dev/null 2>&1 || [ -x /usr/bin/wasm-ld-14 ] || need+=(lld)
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
echo "install-toolchains: installing ${need[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
