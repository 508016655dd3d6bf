package conformancetest

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/weirstream/weir/internal/wasmbuild"
)

// Paths relative to this package.
const (
	vectorDir   = "../../abi/testdata/operators"
	operatorDir = "../../sdk/go/internal/conformance"
	goCaseDir   = "testdata/cases"
	cDir        = "../../sdk/c/conformance"
	rustDir     = "../../sdk/rust/conformance"
)

// The guests every language provides (see the package documentation for
// what each must do).
var (
	// operators are the reference operators of abi/testdata/operators.
	operators = []string{"upper", "runningsum", "tumblecount", "timers", "sideoutput", "call"}
	// cases are the guests that misbehave on purpose.
	cases = []string{"poison", "oom", "oob", "status42", "abiv2"}
)

// languages are the guest languages of the suite, in the order their
// results are reported; the first is the reference the others are compared
// with, byte for byte.
var languages = []string{"go", "c", "rust"}

// A builder builds one guest from source and returns the path of its .wasm
// file. It skips tb (with the reason) when the guest's language cannot be
// built in this tree yet, and fails it when the build fails.
type builder func(tb testing.TB) string

// guests is the suite's table: (language, guest) -> builder. A new SDK adds
// one row per operator and case here.
var guests = map[[2]string]builder{
	{"go", "upper"}:       goGuest(filepath.Join(operatorDir, "upper", "wasm")),
	{"go", "runningsum"}:  goGuest(filepath.Join(operatorDir, "runningsum", "wasm")),
	{"go", "tumblecount"}: goGuest(filepath.Join(operatorDir, "tumblecount", "wasm")),
	{"go", "timers"}:      goGuest(filepath.Join(operatorDir, "timers", "wasm")),
	{"go", "sideoutput"}:  goGuest(filepath.Join(operatorDir, "sideoutput", "wasm")),
	{"go", "call"}:        goGuest(filepath.Join(operatorDir, "call", "wasm")),
	{"go", "poison"}:      goGuest(filepath.Join(goCaseDir, "poison")),
	{"go", "oom"}:         goGuest(filepath.Join(goCaseDir, "oom")),
	{"go", "oob"}:         goGuest(filepath.Join(goCaseDir, "oob")),
	{"go", "status42"}:    goGuest(filepath.Join(goCaseDir, "status42")),
	{"go", "abiv2"}:       goGuest(filepath.Join(goCaseDir, "abiv2")),

	{"c", "upper"}:       cGuest(filepath.Join(cDir, "upper.c")),
	{"c", "runningsum"}:  cGuest(filepath.Join(cDir, "runningsum.c")),
	{"c", "tumblecount"}: cGuest(filepath.Join(cDir, "tumblecount.c")),
	{"c", "timers"}:      cGuest(filepath.Join(cDir, "timers.c")),
	{"c", "sideoutput"}:  cGuest(filepath.Join(cDir, "sideoutput.c")),
	{"c", "call"}:        cGuest(filepath.Join(cDir, "call.c")),
	{"c", "poison"}:      cGuest(filepath.Join(cDir, "cases", "poison.c")),
	{"c", "oom"}:         cGuest(filepath.Join(cDir, "cases", "oom.c")),
	{"c", "oob"}:         cGuest(filepath.Join(cDir, "cases", "oob.c")),
	{"c", "status42"}:    cGuest(filepath.Join(cDir, "cases", "status42.c")),
	{"c", "abiv2"}:       cGuest(filepath.Join(cDir, "cases", "abiv2.c")),

	{"rust", "upper"}:       rustGuest(filepath.Join(rustDir, "upper")),
	{"rust", "runningsum"}:  rustGuest(filepath.Join(rustDir, "runningsum")),
	{"rust", "tumblecount"}: rustGuest(filepath.Join(rustDir, "tumblecount")),
	{"rust", "timers"}:      rustGuest(filepath.Join(rustDir, "timers")),
	{"rust", "sideoutput"}:  rustGuest(filepath.Join(rustDir, "sideoutput")),
	{"rust", "call"}:        rustGuest(filepath.Join(rustDir, "call")),
	{"rust", "poison"}:      rustGuest(filepath.Join(rustDir, "cases", "poison.rs")),
	{"rust", "oom"}:         rustGuest(filepath.Join(rustDir, "cases", "oom.rs")),
	{"rust", "oob"}:         rustGuest(filepath.Join(rustDir, "cases", "oob.rs")),
	{"rust", "status42"}:    rustGuest(filepath.Join(rustDir, "cases", "status42.rs")),
	{"rust", "abiv2"}:       rustGuest(filepath.Join(rustDir, "cases", "abiv2.rs")),
}

// build returns the .wasm of guest name in language lang, skipping or
// failing tb as its builder says.
func build(tb testing.TB, lang, name string) string {
	tb.Helper()
	b, ok := guests[[2]string{lang, name}]
	if !ok {
		tb.Fatalf("the suite has no %s guest %q: add a row to guests", lang, name)
	}
	return b(tb)
}

// goGuest builds the Go main package in dir with the standard toolchain
// (GOOS=wasip1, -buildmode=c-shared).
func goGuest(dir string) builder {
	return func(tb testing.TB) string {
		tb.Helper()
		return wasmbuild.MustGo(tb, dir)
	}
}

// cGuest builds the C file src with clang against sdk/c/weir.h.
func cGuest(src string) builder {
	return func(tb testing.TB) string {
		tb.Helper()
		return wasmbuild.MustC(tb, src)
	}
}

// rustBuild builds a Rust guest (a crate directory or a single .rs file)
// and returns its .wasm path. It is wasmbuild.Rust once that exists (set by
// rustbuild_test.go); nil until the Rust SDK's builder has landed.
var rustBuild func(src string) (string, error)

// rustGuest builds the Rust guest at src with rustBuild. It skips when
// rustBuild or src is not there yet: the Rust SDK is written in parallel.
func rustGuest(src string) builder {
	return func(tb testing.TB) string {
		tb.Helper()
		if rustBuild == nil {
			tb.Skipf("Rust guests are not built yet: internal/wasmbuild has no Rust builder wired into this suite (wasmbuild.Rust, set as rustBuild by rustbuild_test.go)")
		}
		if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
			tb.Skipf("Rust guest %s is not written yet", src)
		}
		p, err := rustBuild(src)
		if err != nil {
			tb.Fatalf("build Rust guest %s: %v", src, err)
		}
		return p
	}
}

// TestGuestTable checks that every language has a row for every operator
// and case, so that a language cannot pass the suite by leaving guests out.
func TestGuestTable(t *testing.T) {
	for _, lang := range languages {
		for _, name := range slices.Concat(operators, cases) {
			if _, ok := guests[[2]string{lang, name}]; !ok {
				t.Errorf("no row for the %s guest %q", lang, name)
			}
		}
	}
	if n, want := len(guests), len(languages)*(len(operators)+len(cases)); n != want {
		t.Errorf("the table has %d rows, want %d (one per language and guest): %v", n, want, rowNames())
	}
}

func rowNames() []string {
	var out []string
	for k := range guests {
		out = append(out, fmt.Sprintf("%s/%s", k[0], k[1]))
	}
	slices.Sort(out)
	return out
}

// quietLogger drops what guests log and print: the suite's guests fail on
// purpose, and their output (a Go guest's goroutine dump) would bury the
// test's own.
var quietLogger = slog.New(slog.DiscardHandler)
