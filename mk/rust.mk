# mk/rust.mk — the Rust guests, built without cargo. Include it from the
# Makefile (`include mk/rust.mk`); it needs Debian's rustc with the wasm32
# standard library, which `make toolchains` (scripts/install-toolchains.sh)
# installs.
#
#   make wasm-rust   build each examples/<example>-rust/<op>/ crate to
#                    examples/<example>-rust/<op>.wasm, next to job.yaml
#   make test-rust   build and run the Rust SDK's native tests (rustc --test)
#   make clean-rust  remove what these targets built
#
# The build is the plain-rustc path of sdk/rust/README.md, with the flags of
# internal/wasmbuild (which the Go tests use): the SDK as an rlib, then each
# operator as a cdylib with --extern weir=<the rlib>.

RUSTC_WASM  ?= /usr/bin/rustc
RUST_TARGET ?= wasm32-unknown-unknown
RUST_FLAGS  ?= --edition 2021 -C opt-level=3 -C codegen-units=1 -C strip=debuginfo \
               -C target-feature=+bulk-memory --remap-path-prefix $(CURDIR)/=
RUST_OUT    := bin/rust
RUST_SDK    := $(RUST_OUT)/$(RUST_TARGET)/libweir.rlib
RUST_SDK_RS := $(wildcard sdk/rust/src/*.rs)
RUST_CRATES := $(wildcard examples/*-rust/*/src/lib.rs)
RUST_WASM   := $(patsubst %/src/lib.rs,%.wasm,$(RUST_CRATES))

.PHONY: wasm-rust test-rust clean-rust

wasm-rust: $(RUST_WASM)

$(RUST_SDK): $(RUST_SDK_RS)
	@mkdir -p $(dir $@)
	$(RUSTC_WASM) $(RUST_FLAGS) --target $(RUST_TARGET) --crate-type rlib --crate-name weir \
		-o $@ sdk/rust/src/lib.rs

# An operator is rebuilt when a .rs file of its crate or the SDK changes.
.SECONDEXPANSION:
$(RUST_WASM): %.wasm: $$(wildcard $$*/src/*.rs) $(RUST_SDK)
	$(RUSTC_WASM) $(RUST_FLAGS) --target $(RUST_TARGET) --crate-type cdylib \
		--crate-name $(subst -,_,$(notdir $*)) --extern weir=$(RUST_SDK) -o $@ $*/src/lib.rs

# The SDK's tests run natively: the crate builds for the host too, where an
# in-memory host (weir::testing) serves the host functions.
test-rust:
	@mkdir -p $(RUST_OUT)
	$(RUSTC_WASM) --edition 2021 --test -o $(RUST_OUT)/weir-test sdk/rust/src/lib.rs
	$(RUST_OUT)/weir-test -q

clean-rust:
	rm -rf $(RUST_OUT) $(RUST_WASM)
