package host

// A tiny assembler of Wasm binaries for tests: just the sections needed to
// declare imports, functions with trivial or hand-written bodies, globals, a
// memory, a start function and custom sections.

const (
	tI32 byte = 0x7f
	tI64 byte = 0x7e
)

type wasmSig struct{ params, results []byte }

type testImport struct {
	module, name string
	kind         byte    // 0 function, 1 table, 2 memory, 3 global
	sig          wasmSig // for functions
}

type testExport struct {
	name string // "" for a function that is not exported
	sig  wasmSig
	// locals, if set, is the encoded vector of local declarations.
	locals []byte
	// body, if set, is the function's code (without the final end); else the
	// function returns ret for an i32 result and zero for others.
	body []byte
	ret  int32
}

// testCustom is a custom section.
type testCustom struct {
	name string
	data []byte
}

// testModule describes a module: its imports, functions (their indices
// follow the imported functions), and a memory of memPages pages, exported
// unless memory is "".
type testModule struct {
	// types are declared first, so that types[i] has type index i (for block
	// types in hand-written bodies).
	types    []wasmSig
	imports  []testImport
	funcs    []testExport
	globals  [][]byte // encoded global entries: type, mutability, init expression
	memory   string   // export name of the memory; "" for none
	memPages uint32
	memMax   uint32 // 0: no maximum
	// start, if set, is the index of the start function plus one.
	start   uint32
	customs []testCustom // appended after every other section
}

// weirExports are the exports ABI.md §3 requires.
var weirExports = []testExport{
	{name: "weir_v1_reserve", sig: wasmSig{[]byte{tI32}, []byte{tI32}}},
	{name: "weir_v1_process", sig: wasmSig{[]byte{tI32, tI32}, []byte{tI32}}},
}

// validModule returns a module with the required exports and a memory, plus
// the given imports and extra exports.
func validModule(imports []testImport, extra ...testExport) testModule {
	return testModule{imports: imports, funcs: append(append([]testExport{}, weirExports...), extra...), memory: "memory", memPages: 1}
}

func (m testModule) encode() []byte {
	types := append([]wasmSig{}, m.types...)
	typeIndex := func(s wasmSig) uint32 {
		for i, t := range types {
			if string(t.params) == string(s.params) && string(t.results) == string(s.results) {
				return uint32(i)
			}
		}
		types = append(types, s)
		return uint32(len(types) - 1)
	}
	var imports, funcs, exports, code []byte
	nImportedFuncs := uint32(0)
	for _, imp := range m.imports {
		imports = appendName(imports, imp.module)
		imports = appendName(imports, imp.name)
		imports = append(imports, imp.kind)
		switch imp.kind {
		case 0:
			imports = appendU32(imports, typeIndex(imp.sig))
			nImportedFuncs++
		case 1:
			imports = append(imports, 0x70, 0x00, 0x01) // funcref, min 1
		case 2:
			imports = append(imports, 0x00, 0x01) // min 1 page
		case 3:
			imports = append(imports, tI32, 0x00) // immutable i32
		}
	}
	nExports := uint32(0)
	for i, f := range m.funcs {
		funcs = appendU32(funcs, typeIndex(f.sig))
		if f.name != "" {
			exports = appendName(exports, f.name)
			exports = append(exports, 0x00)
			exports = appendU32(exports, nImportedFuncs+uint32(i))
			nExports++
		}
		body := []byte{0x00} // no locals
		if f.locals != nil {
			body = append([]byte{}, f.locals...)
		}
		switch {
		case f.body != nil:
			body = append(body, f.body...)
		default:
			for _, r := range f.sig.results {
				if r == tI64 {
					body = append(body, 0x42, 0x00) // i64.const 0
				} else {
					body = appendS32(append(body, 0x41), f.ret) // i32.const ret
				}
			}
		}
		body = append(body, 0x0b) // end
		code = appendU32(code, uint32(len(body)))
		code = append(code, body...)
	}
	var mem []byte
	if m.memory != "" || m.memPages > 0 {
		if m.memMax > 0 {
			mem = appendU32(append(appendU32(nil, 1), 0x01), m.memPages)
			mem = appendU32(mem, m.memMax)
		} else {
			mem = appendU32(append(appendU32(nil, 1), 0x00), m.memPages)
		}
		if m.memory != "" {
			exports = appendName(exports, m.memory)
			exports = append(exports, 0x02, 0x00)
		}
	}
	var typeSec []byte
	for _, t := range types {
		typeSec = append(typeSec, 0x60)
		typeSec = appendU32(typeSec, uint32(len(t.params)))
		typeSec = append(typeSec, t.params...)
		typeSec = appendU32(typeSec, uint32(len(t.results)))
		typeSec = append(typeSec, t.results...)
	}
	out := append([]byte{}, wasmHeader...)
	out = appendSection(out, 1, uint32(len(types)), typeSec)
	out = appendSection(out, 2, uint32(len(m.imports)), imports)
	out = appendSection(out, 3, uint32(len(m.funcs)), funcs)
	if mem != nil {
		out = append(out, 5)
		out = appendU32(out, uint32(len(mem)))
		out = append(out, mem...)
	}
	var globals []byte
	for _, g := range m.globals {
		globals = append(globals, g...)
	}
	out = appendSection(out, 6, uint32(len(m.globals)), globals)
	if m.memory != "" {
		nExports++
	}
	out = appendSection(out, 7, nExports, exports)
	if m.start > 0 {
		start := appendU32(nil, m.start-1)
		out = append(out, 8)
		out = appendU32(out, uint32(len(start)))
		out = append(out, start...)
	}
	out = appendSection(out, 10, uint32(len(m.funcs)), code)
	for _, c := range m.customs {
		body := append(appendName(nil, c.name), c.data...)
		out = append(out, 0)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out
}

// appendSection appends a section holding a vector of n items (omitted when n is 0).
func appendSection(b []byte, id byte, n uint32, items []byte) []byte {
	if n == 0 {
		return b
	}
	body := appendU32(nil, n)
	body = append(body, items...)
	b = append(b, id)
	b = appendU32(b, uint32(len(body)))
	return append(b, body...)
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// appendS32 appends v as a signed LEB128 number.
func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}
