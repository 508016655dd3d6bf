package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/weirstream/weir/internal/wasmbuild"
)

// testCheck stands for the check instrument inserts in TestInstrumentBody.
var testCheck = []byte("<check>")

// codeParts joins the parts of a function body's code; a nil part marks where
// the check must go after a loop. It returns the code and the instrumented
// code, which also has the check at its entry.
func codeParts(parts ...[]byte) (in, want []byte) {
	want = slices.Clone(testCheck)
	for _, p := range parts {
		if p == nil {
			want = append(want, testCheck...)
			continue
		}
		in = append(in, p...)
		want = append(want, p...)
	}
	return in, want
}

func bs(b ...byte) []byte { return b }

// rep returns n copies of c.
func rep(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }

// loopEnd is a loop at the end of a body: it shows that the decoder is still
// in step with the instructions after everything before it.
var loopEnd = [][]byte{bs(0x03, 0x40), nil, bs(0x0b), bs(0x0b)}

// TestInstrumentBody checks that the check goes at the function's entry,
// after its locals, and after the block type of every loop, and nowhere
// else, whatever the immediates before a loop hold (many hold the byte 0x03,
// the loop opcode).
func TestInstrumentBody(t *testing.T) {
	tests := []struct {
		name   string
		locals []byte // nil: none
		parts  [][]byte
		loops  int
	}{
		{"tight loop", nil, [][]byte{bs(0x03, 0x40), nil, bs(0x0c, 0x00), bs(0x0b), bs(0x0b)}, 1},
		{"no loop", nil, [][]byte{bs(0x41, 0x03, 0x1a, 0x0b)}, 0},
		{"nested loops", nil, [][]byte{bs(0x03, 0x40), nil, bs(0x03, 0x40), nil, bs(0x0c, 0x01, 0x0b, 0x0b, 0x0b)}, 2},
		{"block types", nil, [][]byte{
			bs(0x03, 0x7f), nil, bs(0x41, 0x00, 0x0b, 0x1a), // loop (result i32)
			bs(0x03, 0xac, 0x02), nil, bs(0x0b), // loop (type 300)
			bs(0x03, 0x63, 0x03), nil, bs(0x0b), // loop (result (ref null 3))
			bs(0x03, 0x64, 0x70), nil, bs(0x0b), // loop (result (ref func))
			bs(0x02, 0x03, 0x0b), // block (type 3)
			bs(0x0b)}, 4},
		{"locals kept", bs(0x02, 0x03, 0x7f, 0x01, 0x63, 0x03), loopEnd, 1},
		{"MVP immediates", nil, append([][]byte{
			bs(0x41, 0x03), bs(0x41, 0x7f), bs(0x41, 0x83, 0x83, 0x83, 0x83, 0x03), // i32.const
			bs(0x42, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x83, 0x00), // i64.const, 10 bytes
			append(bs(0x43), rep(0x03, 4)...), append(bs(0x44), rep(0x03, 8)...), // f32.const, f64.const
			bs(0x20, 0x03, 0x21, 0x03, 0x22, 0x03, 0x23, 0x03, 0x24, 0x03), // local.*, global.*
			bs(0x10, 0x03, 0x11, 0x03, 0x00),                               // call, call_indirect
			bs(0x0c, 0x03, 0x0d, 0x03, 0x0e, 0x02, 0x03, 0x03, 0x03),       // br, br_if, br_table
			bs(0x28, 0x02, 0x03, 0x3c, 0x00, 0x83, 0x03),                   // i32.load, i64.store8 (2-byte offset)
			bs(0x28, 0x42, 0x03, 0x03),                                     // i32.load from memory 3 (multi-memory)
			bs(0x3f, 0x00, 0x40, 0x00),                                     // memory.size, memory.grow
			bs(0x02, 0x40, 0x04, 0x40, 0x05, 0x0b, 0x0b),                   // block, if, else
			bs(0x1b, 0x1c, 0x01, 0x7f, 0x1a, 0x0f, 0x01, 0x00),             // select, typed select, drop, return, nop, unreachable
			bs(0x45, 0x6a, 0x8b, 0xa7, 0xbf, 0xc0, 0xc4),                   // numeric, sign extension
		}, loopEnd...), 1},
		{"reference types", nil, append([][]byte{
			bs(0xd0, 0x70, 0xd1, 0xd2, 0x03),                                     // ref.null func, ref.is_null, ref.func 3
			bs(0x25, 0x03, 0x26, 0x03),                                           // table.get, table.set
			bs(0xfc, 0x0c, 0x03, 0x03, 0xfc, 0x0d, 0x03, 0xfc, 0x0e, 0x03, 0x03), // table.init, elem.drop, table.copy
			bs(0xfc, 0x0f, 0x03, 0xfc, 0x10, 0x03, 0xfc, 0x11, 0x03),             // table.grow, table.size, table.fill
		}, loopEnd...), 1},
		{"saturating truncation and bulk memory", nil, append([][]byte{
			bs(0xfc, 0x00, 0xfc, 0x03, 0xfc, 0x07),       // trunc_sat
			bs(0xfc, 0x08, 0x03, 0x00, 0xfc, 0x09, 0x03), // memory.init, data.drop
			bs(0xfc, 0x0a, 0x00, 0x00, 0xfc, 0x0b, 0x00), // memory.copy, memory.fill
		}, loopEnd...), 1},
		{"SIMD", nil, append([][]byte{
			bs(0xfd, 0x00, 0x04, 0x03), bs(0xfd, 0x03, 0x03, 0x03), bs(0xfd, 0x0b, 0x04, 0x03), // loads, store
			append(bs(0xfd, 0x0c), rep(0x03, 16)...),                       // v128.const
			append(bs(0xfd, 0x0d), rep(0x03, 16)...),                       // i8x16.shuffle
			bs(0xfd, 0x0e, 0xfd, 0x14),                                     // swizzle, splat
			bs(0xfd, 0x15, 0x03, 0xfd, 0x22, 0x01),                         // extract_lane, replace_lane
			bs(0xfd, 0x54, 0x00, 0x03, 0x03, 0xfd, 0x5b, 0x03, 0x00, 0x01), // load8_lane, store64_lane
			bs(0xfd, 0x5c, 0x02, 0x03, 0xfd, 0x5d, 0x03, 0x00),             // load32_zero, load64_zero
			bs(0xfd, 0x23, 0xfd, 0x53, 0xfd, 0x5e, 0xfd, 0x7b),             // compare, any_true, demote, avgr_u
			bs(0xfd, 0x80, 0x01, 0xfd, 0xae, 0x01, 0xfd, 0xff, 0x01),       // two-byte opcodes: i16x8.abs, i32x4.add, f64x2.convert_low_i32x4_u
		}, loopEnd...), 1},
		{"threads", nil, append([][]byte{
			bs(0xfe, 0x00, 0x02, 0x03), // memory.atomic.notify
			bs(0xfe, 0x03, 0x00),       // atomic.fence
			bs(0xfe, 0x11, 0x03, 0x03, 0xfe, 0x48, 0x02, 0x03, 0xfe, 0x4e, 0x03, 0x00), // load, cmpxchg
		}, loopEnd...), 1},
		{"exception handling", nil, append([][]byte{
			bs(0x06, 0x40, 0x08, 0x03, 0x07, 0x03, 0x09, 0x00, 0x19, 0x0b),                   // try, throw, catch, rethrow, catch_all, end
			bs(0x06, 0x40, 0x18, 0x03),                                                       // try ... delegate
			bs(0x1f, 0x40, 0x04, 0x00, 0x03, 0x03, 0x01, 0x03, 0x03, 0x02, 0x03, 0x03, 0x03), // try_table with 4 clauses
			bs(0x0a, 0x0b), // throw_ref, end
		}, loopEnd...), 1},
		{"tail calls", nil, append([][]byte{
			bs(0x12, 0x03, 0x13, 0x03, 0x00, 0x15, 0x03), // return_call, return_call_indirect, return_call_ref
		}, loopEnd...), 1},
		{"typed function references", nil, append([][]byte{
			bs(0x14, 0x03, 0xd4, 0xd5, 0x03, 0xd6, 0x03), // call_ref, ref.as_non_null, br_on_null, br_on_non_null
			bs(0x1c, 0x01, 0x63, 0x03),                   // select (result (ref null 3))
			bs(0xd0, 0x03),                               // ref.null 3
		}, loopEnd...), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, want := codeParts(tt.parts...)
			locals := tt.locals
			if locals == nil {
				locals = []byte{0x00}
			}
			body := append(slices.Clone(locals), code...)
			got, loops, _, err := instrumentBody([]byte("prefix"), body, testCheck, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := append(append([]byte("prefix"), locals...), want...); !bytes.Equal(got, want) {
				t.Errorf("instrumented body\n got % x\nwant % x", got, want)
			}
			if loops != tt.loops {
				t.Errorf("loops = %d, want %d", loops, tt.loops)
			}
		})
	}
}

// TestInstrumentBodyGrow checks that "memory.grow 0" becomes the call to
// $grow, and that a memory.grow of another memory (multi-memory) and the
// 0x00 bytes of other immediates stay as they are.
func TestInstrumentBodyGrow(t *testing.T) {
	growCall := []byte("<grow>")
	body := bs(0x00, // no locals
		0x41, 0x01, 0x40, 0x00, 0x1a, // i32.const 1, memory.grow 0, drop
		0x41, 0x00, 0x40, 0x01, 0x1a, // i32.const 0, memory.grow 1, drop
		0x03, 0x40, 0x41, 0x40, 0x40, 0x00, 0x1a, 0x0b, // loop, i32.const 64, memory.grow 0, drop, end
		0x0b)
	want := slices.Concat(bs(0x00), testCheck, bs(0x41, 0x01), growCall, bs(0x1a, 0x41, 0x00, 0x40, 0x01, 0x1a, 0x03, 0x40), testCheck,
		bs(0x41, 0x40), growCall, bs(0x1a, 0x0b, 0x0b))
	got, loops, grows, err := instrumentBody(nil, body, testCheck, growCall)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) || loops != 1 || grows != 2 {
		t.Errorf("instrumented body\n got % x (%d loops, %d grows)\nwant % x (1 loop, 2 grows)", got, loops, grows, want)
	}
}

// TestInstrumentBodyRejects checks that instrument refuses what it cannot
// decode, naming the instruction and where it is, rather than guessing.
func TestInstrumentBodyRejects(t *testing.T) {
	tests := []struct {
		name string
		code []byte
		want string
	}{
		{"GC prefix", bs(0x01, 0xfb, 0x00), "instruction at byte 2 of the body: unsupported instruction 0xfb: unknown opcode"},
		{"reserved opcode", bs(0x27), "unsupported instruction 0x27: unknown opcode"},
		{"ref.eq of GC", bs(0xd3), "unsupported instruction 0xd3"},
		{"unknown 0xfc opcode", bs(0xfc, 0x20), "unsupported instruction 0xfc 0x20: unknown opcode"},
		{"unassigned SIMD opcode", bs(0xfd, 0x9a, 0x01), "unsupported instruction 0xfd 0x9a: unknown SIMD opcode"},
		{"relaxed SIMD", bs(0xfd, 0x80, 0x02), "unsupported instruction 0xfd 0x100: unknown SIMD opcode (relaxed SIMD is not supported)"},
		{"unknown atomic opcode", bs(0xfe, 0x04), "unsupported instruction 0xfe 0x04: unknown atomic opcode"},
		{"unknown catch kind", bs(0x1f, 0x40, 0x01, 0x04, 0x00), "try_table with catch kind 0x04"},
		{"truncated i32.const", bs(0x41), "instruction at byte 1 of the body: truncated"},
		{"truncated v128.const", bs(0xfd, 0x0c, 0x00, 0x00), "truncated"},
		{"truncated block type", bs(0x03), "truncated"},
		{"over-long LEB128", bs(0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), "LEB128 number longer than 5 bytes"},
		{"index over 32 bits", bs(0x20, 0xff, 0xff, 0xff, 0xff, 0x7f), "does not fit 32 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := instrumentBody(nil, append([]byte{0x00}, tt.code...), testCheck, nil)
			wantSubstrings(t, errString(err), tt.want)
		})
	}
}

// moduleExports returns the exports of the module wasm as "name kind index".
func moduleExports(t *testing.T, wasm []byte) []string {
	t.Helper()
	secs, err := splitSections(wasm[len(wasmHeader):])
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range secs {
		if s.id != secExport {
			continue
		}
		d := decoder{b: s.body}
		for n := d.u32(); n > 0 && d.err == nil; n-- {
			name, kind, index := d.name(), d.byte(), d.u32()
			out = append(out, fmt.Sprintf("%s %c %d", name, "ftmgx"[min(kind, 4)], index))
		}
		if err := d.end(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// sectionList returns the ids of the sections of wasm, with the names of
// custom sections.
func sectionList(t *testing.T, wasm []byte) []string {
	t.Helper()
	secs, err := splitSections(wasm[len(wasmHeader):])
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range secs {
		if s.id == secCustom {
			out = append(out, "custom:"+s.name)
		} else {
			out = append(out, strconv.Itoa(int(s.id)))
		}
	}
	return out
}

// TestInstrumentModule checks the module-level rewrite: where the globals,
// the $yield function and its type, and the exports go, the start section,
// the custom sections, and that wazero compiles the result.
func TestInstrumentModule(t *testing.T) {
	mutI32 := []byte{0x7f, 0x01, 0x41, 0x07, 0x0b}
	process := testExport{name: "weir_v1_process", sig: wasmSig{[]byte{tI32, tI32}, []byte{tI32}},
		body: []byte{0x03, 0x40, 0x0b, 0x41, 0x00}} // loop end, i32.const 0
	tests := []struct {
		name     string
		mod      testModule
		exports  []string // "name kind index", kind f(unction), m(emory), g(lobal)
		sections []string // section ids, custom sections by name
		counts   string   // of the type, function, global and code vectors
		funcs    int      // function bodies instrumented
		start    bool
		debug    int
	}{
		{"no globals: the global and export sections are added in order",
			testModule{funcs: []testExport{process}, memPages: 1},
			[]string{"weir_v1_process f 0", "weir.interrupt g 0", "weir.grow_failed g 2"}, []string{"1", "3", "5", "6", "7", "10"}, "3 3 3 3", 1, false, 0},
		{"after imported functions and globals and defined globals",
			testModule{imports: []testImport{{module: "env", name: "g", kind: 3}, {module: "env", name: "f", sig: sigNone}},
				funcs: []testExport{process}, globals: [][]byte{mutI32, mutI32}, memory: "memory", memPages: 1},
			[]string{"weir_v1_process f 1", "memory m 0", "weir.interrupt g 3", "weir.grow_failed g 5"}, []string{"1", "2", "3", "5", "6", "7", "10"}, "4 3 5 3", 1, false, 0},
		{"imported memory",
			testModule{imports: []testImport{{module: "env", name: "mem", kind: 2}}, funcs: []testExport{process}},
			[]string{"weir_v1_process f 0", "weir.interrupt g 0", "weir.grow_failed g 2"}, []string{"1", "2", "3", "6", "7", "10"}, "3 3 3 3", 1, false, 0},
		{"start section becomes an export",
			testModule{funcs: []testExport{{sig: wasmSig{}}, process}, memory: "memory", memPages: 1, start: 1},
			[]string{"weir_v1_process f 1", "memory m 0", "weir.interrupt g 0", "weir.grow_failed g 2", "weir.start f 0"}, []string{"1", "3", "5", "6", "7", "10"}, "4 4 3 4", 2, true, 0},
		{"debug sections dropped, others kept",
			testModule{funcs: []testExport{process}, memory: "memory", memPages: 1, customs: []testCustom{
				{".debug_info", []byte{1, 2, 3}}, {"name", []byte{}}, {".debug_line", nil}, {"producers", []byte{0}}}},
			[]string{"weir_v1_process f 0", "memory m 0", "weir.interrupt g 0", "weir.grow_failed g 2"},
			[]string{"1", "3", "5", "6", "7", "10", "custom:name", "custom:producers"}, "3 3 3 3", 1, false, 2},
	}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := instrument(tt.mod.encode())
			if err != nil {
				t.Fatal(err)
			}
			if got := moduleExports(t, res.wasm); !slices.Equal(got, tt.exports) {
				t.Errorf("exports %q, want %q", got, tt.exports)
			}
			if got := sectionList(t, res.wasm); !slices.Equal(got, tt.sections) {
				t.Errorf("sections %q, want %q", got, tt.sections)
			}
			if got := vectorCounts(t, res.wasm, secType, secFunction, secGlobal, secCode); got != tt.counts {
				t.Errorf("type, function, global and code vectors hold %s, want %s", got, tt.counts)
			}
			if res.loops != 1 || res.funcs != tt.funcs || res.hasStart != tt.start || res.droppedDebug != tt.debug {
				t.Errorf("loops %d, funcs %d, start %v, dropped %d debug sections; want 1, %d, %v, %d",
					res.loops, res.funcs, res.hasStart, res.droppedDebug, tt.funcs, tt.start, tt.debug)
			}
			compiled, err := r.CompileModule(ctx, res.wasm)
			if err != nil {
				t.Fatalf("wazero rejects the instrumented module: %v", err)
			}
			_ = compiled.Close(ctx)
		})
	}
}

// vectorCounts returns the item counts of the given sections of wasm.
func vectorCounts(t *testing.T, wasm []byte, ids ...byte) string {
	t.Helper()
	secs, err := splitSections(wasm[len(wasmHeader):])
	if err != nil {
		t.Fatal(err)
	}
	var counts []string
	for _, id := range ids {
		n := "none"
		for _, s := range secs {
			if s.id == id {
				d := decoder{b: s.body}
				n = strconv.Itoa(int(d.u32()))
			}
		}
		counts = append(counts, n)
	}
	return strings.Join(counts, " ")
}

// TestInstrumentRejects checks the module-level errors of instrument.
func TestInstrumentRejects(t *testing.T) {
	valid := validModule(nil).encode()
	tests := []struct {
		name     string
		wasm     []byte
		want     string
		reserved bool
	}{
		{"reserved export", validModule(nil, testExport{name: "weir.interrupt", sig: sigNone}).encode(),
			`export "weir.interrupt": names starting with "weir." are reserved for the host`, true},
		{"two reserved exports", validModule(nil, testExport{name: "weir.x", sig: sigNone}, testExport{name: "weir.start", sig: sigNone}).encode(),
			`export "weir.x", "weir.start": names starting with "weir."`, true},
		{"truncated section", valid[:len(valid)-3], "bytes run past the end of the module", false},
		{"unknown section", append(slices.Clone(valid), 14, 0), "unknown section id 14", false},
		{"two code sections", append(slices.Clone(valid), 10, 1, 0), "more than one section with id 10", false},
		{"not wasm", []byte("\x00asm\x02\x00\x00\x00"), "not a WebAssembly 1 binary", false},
		{"no memory", testModule{funcs: weirExports}.encode(), "the module has no memory", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := instrument(tt.wasm)
			wantSubstrings(t, errString(err), tt.want)
			var re *reservedExportError
			if errors.As(err, &re) != tt.reserved {
				t.Errorf("error %v: *reservedExportError %v, want %v", err, !tt.reserved, tt.reserved)
			}
		})
	}
}

// TestInstrumentGoGuests instruments the Go test guests, which hold about a
// thousand loops each, and checks what it did (that wazero compiles them is
// checked by every other test, through Load).
func TestInstrumentGoGuests(t *testing.T) {
	for _, name := range []string{"echo", "probe", "state"} {
		t.Run(name, func(t *testing.T) {
			wasm, err := os.ReadFile(wasmbuild.MustGo(t, "testdata/guests/"+name))
			if err != nil {
				t.Fatal(err)
			}
			res, err := instrument(wasm)
			if err != nil {
				t.Fatal(err)
			}
			// NB: Go's linker writes no DWARF for wasip1, so there is no
			// .debug_* section to drop (TestInstrumentModule covers that).
			if res.loops < 100 || res.funcs < 1000 || res.hasStart {
				t.Errorf("%d loops, %d functions, start %v; want a Go module's many loops and functions and no start section",
					res.loops, res.funcs, res.hasStart)
			}
			if !slices.Contains(sectionList(t, res.wasm), "custom:name") {
				t.Error("the name section is gone")
			}
			_, err = instrument(res.wasm)
			var re *reservedExportError
			if !errors.As(err, &re) {
				t.Errorf("instrumenting twice: got %v, want a reserved export error", err)
			}
		})
	}
}

// BenchmarkInstrument measures instrument on the probe guest (about 2 MB).
func BenchmarkInstrument(b *testing.B) {
	wasm, err := os.ReadFile(wasmbuild.MustGo(b, "testdata/guests/probe"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(wasm)))
	for range b.N {
		if _, err := instrument(wasm); err != nil {
			b.Fatal(err)
		}
	}
}
