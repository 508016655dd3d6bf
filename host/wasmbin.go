package host

import (
	"errors"
	"fmt"
)

// wasmImport is an import of a kind other than function. wazero lists a
// compiled module's function and memory imports but not its table, global or
// tag imports, so Load reads the import section itself to reject those at load
// time rather than at instantiation.
type wasmImport struct {
	module, name string
	kind         string // "table", "memory", "global" or "tag"
}

const importSectionID = 2

var errTruncated = errors.New("truncated")

// nonFunctionImports returns the imports of wasm that are not functions. wasm
// must have compiled already: this reader checks bounds but not validity.
func nonFunctionImports(wasm []byte) ([]wasmImport, error) {
	r := wasmReader{b: wasm[len(wasmHeader):]}
	for len(r.b) > 0 {
		id := r.byte()
		size := r.u64()
		if r.err != nil || size > uint64(len(r.b)) {
			return nil, fmt.Errorf("read wasm sections: %w", errTruncated)
		}
		body := r.b[:size]
		r.b = r.b[size:]
		if id != importSectionID {
			continue
		}
		imports, err := readImports(body)
		if err != nil {
			return nil, fmt.Errorf("read wasm import section: %w", err)
		}
		return imports, nil
	}
	return nil, nil
}

func readImports(body []byte) ([]wasmImport, error) {
	r := wasmReader{b: body}
	var out []wasmImport
	for n := r.u64(); n > 0 && r.err == nil; n-- {
		imp := wasmImport{module: r.name(), name: r.name()}
		switch kind := r.byte(); kind {
		case 0x00: // function: type index
			r.u64()
			continue
		case 0x01: // table: reference type, limits
			imp.kind = "table"
			r.byte()
			r.limits()
		case 0x02:
			imp.kind = "memory"
			r.limits()
		case 0x03: // global: value type, mutability
			imp.kind = "global"
			r.byte()
			r.byte()
		case 0x04: // tag: attribute, type index
			imp.kind = "tag"
			r.byte()
			r.u64()
		default:
			if r.err == nil {
				r.err = fmt.Errorf("unknown import kind %#x", kind)
			}
		}
		out = append(out, imp)
	}
	return out, r.err
}

// wasmReader reads the binary encoding; the first error sticks and later reads
// return zero values.
type wasmReader struct {
	b   []byte
	err error
}

func (r *wasmReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// u64 reads an unsigned LEB128 number of up to 64 bits.
func (r *wasmReader) u64() uint64 {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail()
	return 0
}

func (r *wasmReader) name() string {
	n := r.u64()
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// limits reads a flags byte, a minimum and, if flag bit 0 is set, a maximum.
func (r *wasmReader) limits() {
	flags := r.byte()
	r.u64()
	if flags&1 != 0 {
		r.u64()
	}
}

func (r *wasmReader) fail() {
	if r.err == nil {
		r.err = errTruncated
	}
}
