package conformancetest

import "github.com/weirstream/weir/internal/wasmbuild"

// The Rust guests of the suite build with wasmbuild.Rust: Debian's rustc
// (scripts/install-toolchains.sh), the SDK in sdk/rust as an rlib, each guest
// as a cdylib for wasm32-unknown-unknown.
func init() { rustBuild = wasmbuild.Rust }
