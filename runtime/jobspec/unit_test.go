package jobspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirstream/weir/runtime"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int64
		err  string // substring of the error; empty for success
	}{
		{name: "bytes", in: "65536", want: 65536},
		{name: "B", in: "512B", want: 512},
		{name: "KiB", in: "64KiB", want: 64 << 10},
		{name: "MiB with a space", in: "256 MiB", want: 256 << 20},
		{name: "GiB", in: "4GiB", want: 4 << 30},
		{name: "TiB", in: "2TiB", want: 2 << 40},
		{name: "zero", in: "0", want: 0},
		{name: "decimal MB", in: "64MB", err: `"64MB" uses a decimal unit`},
		{name: "decimal kb lower case", in: "10kb", err: "e.g. 10KiB"},
		{name: "unknown unit", in: "3 parsecs", err: `has an unknown unit "parsecs"`},
		{name: "unit without number", in: "MiB", err: `"MiB" is not a size`},
		{name: "fraction", in: "1.5GiB", err: `unknown unit ".5GiB"`},
		{name: "negative", in: "-1", err: `"-1" is not a size`},
		{name: "two spaces", in: "1  MiB", err: "unknown unit"},
		{name: "overflow in digits", in: "99999999999999999999", err: "too large"},
		{name: "overflow with unit", in: "9999999TiB", err: "too large"},
		{name: "empty", in: "", err: "is not a size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseSize(%q) = %d, %v; want error with %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	inner := errors.New("boom")
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{name: "everything", err: &Error{File: "job.yaml", Line: 3, Column: 11, Path: "checkpoint.interval", Err: inner}, want: "job.yaml:3:11: checkpoint.interval: boom"},
		{name: "no column", err: &Error{File: "job.yaml", Line: 3, Err: inner}, want: "job.yaml:3: boom"},
		{name: "no position", err: &Error{File: "job.yaml", Path: "sources", Err: inner}, want: "job.yaml: sources: boom"},
		{name: "no file", err: &Error{Line: 2, Column: 1, Err: inner}, want: "2:1: boom"},
		{name: "nothing but the error", err: &Error{Err: inner}, want: "boom"},
		{name: "no error", err: &Error{File: "f"}, want: "f: invalid job spec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestErrorsAreListed checks that the joined error of Parse lets a caller walk
// every *Error with its position, and that errors.Is reaches a plugin's error.
func TestErrorsAreListed(t *testing.T) {
	_, err := Parse([]byte("name: j\nparallelism: x\nmaxParallelism: y\n"), "f.yaml")
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Parse error %T is not a joined error", err)
	}
	var got []string
	for _, e := range joined.Unwrap() {
		var se *Error
		if !errors.As(e, &se) {
			t.Fatalf("%v is not an *Error", e)
		}
		got = append(got, fmt.Sprintf("%d:%d %s", se.Line, se.Column, se.Path))
	}
	want := []string{"1:1 sources", "1:1 sinks", "2:14 parallelism", "3:17 maxParallelism"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("errors at %q, want %q\n%v", got, want, err)
	}

	sentinel := errors.New("disk on fire")
	reg := testRegistry()
	reg.Sources["file"] = func(json.RawMessage, string) (runtime.Source, error) {
		return nil, fmt.Errorf("open: %w", sentinel)
	}
	s, err := Parse([]byte(wordcount), "wc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Build(reg, t.TempDir()); !errors.Is(err, sentinel) {
		t.Errorf("Build error %v does not wrap the plugin's error", err)
	}
}

func TestErrorCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: j\nsources:\n")
	for i := range maxErrors + 10 {
		fmt.Fprintf(&b, "  - {name: 's %d', kind: file}\n", i)
	}
	_, err := Parse([]byte(b.String()), "many.yaml")
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxErrors+1 {
		t.Fatalf("%d error lines, want %d", len(lines), maxErrors+1)
	}
	// 60 bad names and one "no sink": 11 are left out.
	if last := lines[len(lines)-1]; last != "many.yaml: 11 more errors not shown" {
		t.Errorf("last line %q", last)
	}
}

// TestLoadWithErrorsRunsNoPlugin checks that a spec with errors reports
// unknown kinds too, but runs no factory and loads no module.
func TestLoadWithErrorsRunsNoPlugin(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "job.yaml")
	spec := "name: j\nparallelism: 0\nsources: [{name: s, kind: kafka}, {name: t, kind: file}]\n" +
		"operators: [{name: o, module: o.wasm, from: [s, t]}]\nsinks: [{name: k, kind: console, from: o}]\n"
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	called := 0
	reg := Registry{
		Sources: map[string]SourceFactory{"file": func(json.RawMessage, string) (runtime.Source, error) {
			called++
			return &fakeSource{}, nil
		}},
		Sinks: map[string]SinkFactory{"console": func(json.RawMessage, string) (runtime.Sink, error) {
			called++
			return &fakeSink{}, nil
		}},
		LoadModule: func(string, ModuleLimits) (runtime.OperatorFactory, error) {
			called++
			return &fakeModule{}, nil
		},
	}
	_, err := Load(path, reg)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	for _, want := range []string{path + ":2:14: parallelism: 0 is out of range", path + `:3:27: sources[0].kind: unknown source kind "kafka" (known: file)`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	if called != 0 {
		t.Errorf("%d plugin factories or module loads ran for a spec with errors", called)
	}
}

func TestBuildRegistryProblems(t *testing.T) {
	tests := []struct {
		name string
		reg  Registry
		spec string // "": the word count example
		want []string
	}{
		{
			name: "empty registry",
			reg:  Registry{},
			want: []string{
				`wc.yaml:8:11: sources[0].kind: unknown source kind "file" (none are registered)`,
				`wc.yaml:14:13: operators[0] (split): module "split.wasm": the registry has no module loader`,
				`wc.yaml:24:11: sinks[0].kind: unknown sink kind "file" (none are registered)`,
			},
		},
		{
			name: "no Extism loader",
			reg: func() Registry {
				r := testRegistry()
				r.LoadExtism = nil
				return r
			}(),
			spec: "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: op.wasm, kind: extism, from: src}]\nsinks: [{name: out, kind: console, from: op}]\n",
			want: []string{`wc.yaml:3:32: operators[0] (op): module "op.wasm": the registry has no Extism plugin loader`},
		},
		{
			name: "nil factory counts as absent",
			reg: func() Registry {
				r := testRegistry()
				r.Sources["file"] = nil
				return r
			}(),
			want: []string{`sources[0].kind: unknown source kind "file" (known: datagen)`},
		},
		{
			// Parse checks what Validate checks; a factory that returns no
			// source is the one thing only Validate sees.
			name: "validate is the backstop",
			reg: func() Registry {
				r := testRegistry()
				r.Sinks["file"] = func(json.RawMessage, string) (runtime.Sink, error) { return nil, nil }
				return r
			}(),
			want: []string{`wc.yaml: job "wordcount": out: no sink implementation`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			if spec == "" {
				spec = wordcount
			}
			s, err := Parse([]byte(spec), "wc.yaml")
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Build(tt.reg, "/base")
			if err == nil {
				t.Fatal("Build succeeded")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.yaml"), testRegistry()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want an error wrapping os.ErrNotExist", err)
	}
	big := filepath.Join(dir, "big.yaml")
	data := []byte("name: j\n# " + strings.Repeat("x", maxSpecBytes) + "\n")
	if err := os.WriteFile(big, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(big, testRegistry())
	if err == nil || !strings.Contains(err.Error(), "the spec is more than 1048576 bytes long") {
		t.Errorf("Load of a large file: %v", err)
	}
	if _, err := Parse(data, "big.yaml"); err == nil || !strings.Contains(err.Error(), "at most 1048576") {
		t.Errorf("Parse of a large spec: %v", err)
	}
}

// TestJSONTotalBudget checks that many options that are each under the limit
// still cannot expand, together, past maxTotalJSONBytes.
func TestJSONTotalBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: j\n")
	// One anchored value of ~180 KB of JSON built from aliases, used by 60 sinks.
	b.WriteString("sources:\n  - name: s\n    kind: file\n    options:\n")
	b.WriteString("      a0: &a0 [" + strings.TrimSuffix(strings.Repeat(`"0123456789012345678901234567890123456789", `, 8), ", ") + "]\n")
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&b, "      a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	b.WriteString("sinks:\n")
	for i := range 60 {
		fmt.Fprintf(&b, "  - {name: k%d, kind: console, from: s, options: {x: *a3}}\n", i)
	}
	_, err := Parse([]byte(b.String()), "j.yaml")
	if err == nil || !strings.Contains(err.Error(), "the options and config values of this spec expand to more than 8388608 bytes of JSON") {
		t.Fatalf("Parse: %v", err)
	}
	if n := strings.Count(err.Error(), "expand to more than"); n != 1 {
		t.Errorf("the budget error is reported %d times, want once:\n%v", n, err)
	}
}

// TestAliasAmplification checks that specs which use YAML aliases to repeat a
// large value in every node give a short error, not one as large as the
// expansion. (A test that hangs or runs out of memory here has found the bug.)
func TestAliasAmplification(t *testing.T) {
	repeat := func(n int, format string) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, format, i)
		}
		return b.String()
	}
	items := func(n int, format string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(format, i)
		}
		return strings.Join(parts, ", ")
	}
	tests := []struct {
		name string
		spec string
		want string
	}{
		{
			name: "long from list in every operator",
			spec: "name: j\nx: &from [" + items(300, "n%d") + "]\nsources: [{name: s, kind: file}]\noperators:\n" +
				repeat(900, "  - {name: o%d, module: o.wasm, from: *from}\n") + "sinks: [{name: k, kind: console, from: s}]\n",
			want: "from: 300 inputs (at most 256)",
		},
		{
			name: "many inputs in every operator",
			spec: "name: j\nx: &ins [" + items(250, "{from: n%d}") + "]\nsources: [{name: s, kind: file}]\noperators:\n" +
				repeat(900, "  - {name: o%d, module: o.wasm, inputs: *ins}\n") + "sinks: [{name: k, kind: console, from: s}]\n",
			want: "operators[40].inputs: the job has more than 10000 inputs in all",
		},
		{
			name: "bad keys in every source's options",
			spec: "name: j\nx: &o {" + items(5000, "%d: 1") + "}\nsources:\n" +
				repeat(900, "  - {name: s%d, kind: file, options: *o}\n") + "sinks: [{name: k, kind: console, from: s0}]\n",
			want: "sources[0].options: key number 0 is not a string",
		},
		{
			name: "many fields in every source",
			spec: "name: j\nx: &w {" + items(100, "f%d: 1") + "}\nsources:\n" +
				repeat(900, "  - {name: s%d, kind: file, watermark: *w}\n") + "sinks: [{name: k, kind: console, from: s0}]\n",
			want: "sources[0].watermark: 100 fields (known: outOfOrderness)",
		},
		{
			name: "long string in every sink",
			spec: "name: j\nx: &long " + strings.Repeat("a", 200_000) + "\nsources: [{name: s, kind: file}]\nsinks:\n" +
				repeat(900, "  - {name: k%d, kind: console, from: *long}\n"),
			want: `unknown node "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"...`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.spec), "j.yaml")
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error does not contain %q:\n%.2000s", tt.want, msg)
			}
			if len(msg) > 64<<10 {
				t.Errorf("error message is %d bytes long", len(msg))
			}
		})
	}
}

// BenchmarkParse measures Parse of the documentation's example spec.
//
//	go test -run '^$' -bench BenchmarkParse -benchtime 2s ./runtime/jobspec
func BenchmarkParse(b *testing.B) {
	data := []byte(wordcount)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data, "job.yaml"); err != nil {
			b.Fatal(err)
		}
	}
}
