# mk/c.mk — the C guests. Included by the Makefile; needs Debian's clang and lld
# (`make toolchains`). The flags are those of internal/wasmbuild/c.go, which the
# Go tests use.
#
#   make wasm-c   build each examples/<example>-c/<op>/*.c to
#                 examples/<example>-c/<op>.wasm, next to job.yaml

CLANG_WASM ?= clang
C_FLAGS    ?= --target=wasm32 -nostdlib -O2 -mbulk-memory -std=c11 -Wall -Wextra -Werror \
              -Wl,--no-entry -Wl,--stack-first -Wl,-z,stack-size=262144 -I sdk/c
C_DIRS     := $(patsubst %/,%,$(dir $(wildcard examples/*-c/*/*.c)))
C_WASM     := $(addsuffix .wasm,$(sort $(C_DIRS)))

.PHONY: wasm-c clean-c

wasm-c: $(C_WASM)

.SECONDEXPANSION:
$(C_WASM): %.wasm: $$(wildcard $$*/*.c) sdk/c/weir.h
	$(CLANG_WASM) $(C_FLAGS) -o $@ $(wildcard $*/*.c)

clean-c:
	rm -f $(C_WASM)
