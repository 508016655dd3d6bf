package host

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Export names the host adds to a module it instruments. Every export name
// that starts with reservedExportPrefix is the host's: Load rejects a module
// that exports one itself. The '.' keeps them apart from names that
// toolchains derive from Go, Rust or C identifiers.
const (
	reservedExportPrefix = "weir."
	// interruptExport is the mutable i32 global that the host sets to 1 to
	// stop the guest (see instrument).
	interruptExport = "weir.interrupt"
	// startExport is the function of the module's start section, which
	// instrument removes so that the host can run it under the call time limit.
	startExport = "weir.start"
	// growFailedExport is the mutable i32 global where the guest's
	// memory.grow instructions record the pages they asked for when they
	// failed (see instrument), so that the host can say that a trap followed
	// the exhaustion of guest memory. The host clears it per call.
	growFailedExport = "weir.grow_failed"
)

// yieldEvery is the number of checks (loop iterations and function entries)
// between two visits of an instrumented guest to Go, where the Go runtime can
// stop its goroutine (for a garbage collection) and where the guest tests the
// interrupt flag. A visit costs about as much as a host function call; the
// guest's time between two visits bounds both how long a stop-the-world waits
// for it and how late it sees the flag.
const yieldEvery = 1024

// Section ids of the binary format.
const (
	secCustom   = 0
	secType     = 1
	secImport   = 2
	secFunction = 3
	secMemory   = 5
	secGlobal   = 6
	secExport   = 7
	secStart    = 8
	secCode     = 10
)

// sectionRank orders the known non-custom section ids as a module must hold
// them (the tag section, 13, sits between memory and global; data count, 12,
// between element and code). 0 marks an unknown id.
var sectionRank = [14]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

// instrumentation is a module rewritten by instrument.
type instrumentation struct {
	wasm []byte
	// loops and funcs are the numbers of loop headers and function entries
	// that now count down the fuel.
	loops, funcs int
	// grows is the number of memory.grow instructions that now call $grow.
	grows int
	// hasStart says that the module had a start section, now exported as
	// startExport.
	hasStart bool
	// droppedDebug is the number of .debug_* custom sections removed.
	droppedDebug int
}

// reservedExportError is the error of instrument for a module that exports
// a name starting with reservedExportPrefix.
type reservedExportError struct{ names []string }

func (e *reservedExportError) Error() string {
	quoted := make([]string, len(e.names))
	for i, n := range e.names {
		quoted[i] = strconv.Quote(n)
	}
	return fmt.Sprintf("export %s: names starting with %q are reserved for the host", strings.Join(quoted, ", "), reservedExportPrefix)
}

// vectorAddition is what instrument appends to the vector of one section.
type vectorAddition struct {
	id    byte
	n     uint32 // items
	items []byte
}

// instrument rewrites the module wasm so that the host can stop it cheaply
// (epoch interruption, as Wasmtime does it). Without renumbering anything —
// every addition goes at the end of its index space — it adds:
//
//   - two mutable i32 globals: $interrupt, 0, exported as interruptExport,
//     which the host sets to stop the guest; and $fuel, yieldEvery;
//
//   - a function $yield, of a new type () -> (), that sets $fuel back to
//     yieldEvery, grows memory 0 by 0 pages (which changes nothing, but
//     which wazero implements as an exit from the machine code to Go), then
//     traps with "unreachable" if $interrupt is set;
//
//   - a mutable i32 global $growFailed, 0, exported as growFailedExport,
//     and a function $grow, of a new type (i32) -> (i32), that does
//     memory.grow on memory 0 and, when it fails, stores the pages it asked
//     for in $growFailed; every "memory.grow 0" of the module becomes
//     "call $grow" (same stack effect);
//
//   - at the entry of every function and right after the block type of every
//     loop (where every backward branch of Wasm lands), the check
//
//     global.get $fuel  i32.const 1  i32.sub  global.set $fuel
//     global.get $fuel  i32.eqz  if  call $yield  end
//
// Function entries are checked too because calls alone can run for ever
// without a loop: f(n) calling f(n-1) twice takes 2^n calls at a stack
// depth of n.
//
// It also turns a start section into the export startExport, so that the
// host calls the start function itself, under the call time limit, and drops
// .debug_* custom sections, whose code offsets the rewrite invalidates (the
// name section stays: function indices do not change). Function bodies are
// otherwise copied byte for byte, local declarations included.
//
// instrument decodes every instruction of every function body to find the
// loops. It fails on an opcode it does not know, on a module without a
// memory, on a module that exports a reserved name (a *reservedExportError)
// and on a binary it cannot parse; it does not validate the module
// otherwise: compiling the result does.
func instrument(wasm []byte) (*instrumentation, error) {
	if !bytes.HasPrefix(wasm, wasmHeader) {
		return nil, errors.New("not a WebAssembly 1 binary")
	}
	secs, err := splitSections(wasm[len(wasmHeader):])
	if err != nil {
		return nil, err
	}
	var (
		res                             = &instrumentation{}
		imp                             importCounts
		types, funcs, globals, memories uint32
		start                           uint32
		seen                            [len(sectionRank)]bool
	)
	for _, s := range secs {
		if s.id == secCustom {
			continue
		}
		if int(s.id) >= len(sectionRank) || sectionRank[s.id] == 0 {
			return nil, fmt.Errorf("unknown section id %d", s.id)
		}
		if seen[s.id] {
			return nil, fmt.Errorf("more than one section with id %d", s.id)
		}
		seen[s.id] = true
		d := decoder{b: s.body}
		switch s.id {
		case secType:
			types = d.u32()
		case secImport:
			imp, err = countImports(s.body)
		case secFunction:
			funcs = d.u32()
		case secMemory:
			memories = d.u32()
		case secGlobal:
			globals = d.u32()
		case secExport:
			err = checkExportNames(s.body)
		case secStart:
			start = d.u32()
			err = d.end()
			res.hasStart = true
		}
		if err == nil {
			err = d.err
		}
		if err != nil {
			return nil, fmt.Errorf("section %d: %w", s.id, err)
		}
	}
	if memories+imp.memories == 0 {
		return nil, errors.New("the module has no memory, which the instrumentation needs")
	}
	const maxIndex = 1<<32 - 3
	if types > maxIndex-1 || uint64(imp.funcs)+uint64(funcs) > maxIndex || uint64(imp.globals)+uint64(globals) > maxIndex {
		return nil, errors.New("too many types, functions or globals to add the instrumentation's")
	}
	var (
		yieldType  = types
		growType   = types + 1
		yieldFunc  = imp.funcs + funcs
		growFunc   = yieldFunc + 1
		flag       = imp.globals + globals
		fuel       = flag + 1
		growFailed = flag + 2
	)

	check := []byte{0x23} // global.get $fuel
	check = appendUleb128(check, fuel)
	check = append(check, 0x41, 0x01, 0x6b, 0x24) // i32.const 1, i32.sub, global.set $fuel
	check = appendUleb128(check, fuel)
	check = append(check, 0x23) // global.get $fuel
	check = appendUleb128(check, fuel)
	check = append(check, 0x45, 0x04, 0x40, 0x10) // i32.eqz, if, call $yield
	check = appendUleb128(check, yieldFunc)
	check = append(check, 0x0b) // end

	yieldBody := []byte{0x00, 0x41} // no locals; i32.const yieldEvery
	yieldBody = appendSleb128(yieldBody, yieldEvery)
	yieldBody = append(yieldBody, 0x24) // global.set $fuel
	yieldBody = appendUleb128(yieldBody, fuel)
	yieldBody = append(yieldBody, 0x41, 0x00, 0x40, 0x00, 0x1a, 0x23) // i32.const 0, memory.grow 0, drop, global.get $interrupt
	yieldBody = appendUleb128(yieldBody, flag)
	yieldBody = append(yieldBody, 0x04, 0x40, 0x00, 0x0b, 0x0b) // if unreachable end, end

	growCall := appendUleb128([]byte{0x10}, growFunc) // call $grow
	growBody := []byte{0x01, 0x01, 0x7f, 0x20, 0x00, 0x40, 0x00, 0x22, 0x01, 0x41, 0x7f, 0x46, 0x04, 0x40, 0x20, 0x00, 0x24}
	// one i32 local; local.get 0, memory.grow 0, local.tee 1, i32.const -1, i32.eq, if, local.get 0, global.set $growFailed
	growBody = appendUleb128(growBody, growFailed)
	growBody = append(growBody, 0x0b, 0x20, 0x01, 0x0b) // end, local.get 1, end

	newGlobals := []byte{0x7f, 0x01, 0x41, 0x00, 0x0b, 0x7f, 0x01, 0x41} // $interrupt: mut i32 = 0; $fuel: mut i32 = yieldEvery
	newGlobals = append(appendSleb128(newGlobals, yieldEvery), 0x0b)
	newGlobals = append(newGlobals, 0x7f, 0x01, 0x41, 0x00, 0x0b) // $growFailed: mut i32 = 0
	newExports := appendWasmName(nil, interruptExport)
	newExports = appendUleb128(append(newExports, 0x03), flag) // global
	newExports = appendWasmName(newExports, growFailedExport)
	newExports = appendUleb128(append(newExports, 0x03), growFailed)
	nExports := uint32(2)
	if res.hasStart {
		newExports = appendWasmName(newExports, startExport)
		newExports = appendUleb128(append(newExports, 0x00), start) // function
		nExports++
	}
	// NB: in the order of their sections.
	adds := []*vectorAddition{
		{id: secType, n: 2, items: []byte{0x60, 0x00, 0x00, 0x60, 0x01, 0x7f, 0x01, 0x7f}},
		{id: secFunction, n: 2, items: appendUleb128(appendUleb128(nil, yieldType), growType)},
		{id: secGlobal, n: 3, items: newGlobals},
		{id: secExport, n: nExports, items: newExports},
		{id: secCode, n: 2, items: slices.Concat(appendUleb128(nil, uint32(len(yieldBody))), yieldBody, appendUleb128(nil, uint32(len(growBody))), growBody)},
	}

	out := make([]byte, 0, len(wasm)+len(wasm)/4)
	out = append(out, wasmHeader...)
	var body []byte
	// flush appends, as sections of their own, the additions to sections the
	// module lacks that come before a section of rank rank.
	flush := func(rank int) {
		for len(adds) > 0 && sectionRank[adds[0].id] < rank {
			a := adds[0]
			body = append(appendUleb128(body[:0], a.n), a.items...)
			out = appendWasmSection(out, a.id, body)
			adds = adds[1:]
		}
	}
	for _, s := range secs {
		if s.id == secCustom {
			if strings.HasPrefix(s.name, ".debug_") {
				res.droppedDebug++
				continue
			}
			out = append(out, s.raw...)
			continue
		}
		flush(sectionRank[s.id])
		if s.id == secStart {
			continue // the host calls startExport after instantiation
		}
		if len(adds) == 0 || adds[0].id != s.id {
			out = append(out, s.raw...)
			continue
		}
		a := adds[0]
		adds = adds[1:]
		d := decoder{b: s.body}
		n := d.u32()
		if d.err != nil {
			return nil, fmt.Errorf("section %d: %w", s.id, d.err)
		}
		if uint64(n)+uint64(a.n) > 1<<32-1 {
			return nil, fmt.Errorf("section %d: too many items to add %d", s.id, a.n)
		}
		body = appendUleb128(body[:0], n+a.n)
		if s.id == secCode {
			var err error
			body, err = instrumentCode(body, s.body[d.pos:], n, imp.funcs, check, growCall, res)
			if err != nil {
				return nil, fmt.Errorf("code section: %w", err)
			}
		} else {
			body = append(body, s.body[d.pos:]...)
		}
		body = append(body, a.items...)
		if uint64(len(body)) > 1<<32-1 {
			return nil, fmt.Errorf("section %d: instrumented, it is larger than 4 GiB", s.id)
		}
		out = appendWasmSection(out, s.id, body)
	}
	flush(len(sectionRank) + 1)
	res.wasm = out
	return res, nil
}

// wasmSection is one section of a module.
type wasmSection struct {
	id   byte
	raw  []byte // the whole section: id, size and body
	body []byte
	name string // of a custom section
}

// splitSections cuts the sections that follow the module header.
func splitSections(b []byte) ([]wasmSection, error) {
	var secs []wasmSection
	d := decoder{b: b}
	for d.pos < len(d.b) {
		at := d.pos
		id := d.byte()
		size := d.u32()
		if d.err != nil {
			return nil, fmt.Errorf("section header at byte %d: %w", len(wasmHeader)+at, d.err)
		}
		if uint64(size) > uint64(len(d.b)-d.pos) {
			return nil, fmt.Errorf("section %d at byte %d: its %d bytes run past the end of the module", id, len(wasmHeader)+at, size)
		}
		s := wasmSection{id: id, raw: d.b[at : d.pos+int(size)], body: d.b[d.pos : d.pos+int(size)]}
		d.pos += int(size)
		if id == secCustom {
			nd := decoder{b: s.body}
			s.name = nd.name()
			if nd.err != nil {
				return nil, fmt.Errorf("custom section at byte %d: name: %w", len(wasmHeader)+at, nd.err)
			}
		}
		secs = append(secs, s)
	}
	return secs, nil
}

// importCounts are the numbers of imports of some kinds.
type importCounts struct{ funcs, globals, memories uint32 }

// countImports counts the imports of the import section body.
func countImports(body []byte) (importCounts, error) {
	var c importCounts
	d := decoder{b: body}
	for n := d.u32(); n > 0 && d.err == nil; n-- {
		d.name()
		d.name()
		switch kind := d.byte(); kind {
		case 0x00: // function: type index
			d.u32()
			c.funcs++
		case 0x01: // table: reference type, limits
			d.valType()
			d.limits()
		case 0x02: // memory: limits
			d.limits()
			c.memories++
		case 0x03: // global: value type, mutability
			d.valType()
			d.byte()
			c.globals++
		case 0x04: // tag: attribute, type index
			d.byte()
			d.u32()
		default:
			d.fail(fmt.Errorf("unknown import kind %#x", kind))
		}
	}
	return c, d.end()
}

// checkExportNames fails with a *reservedExportError if an export's name
// starts with reservedExportPrefix.
func checkExportNames(body []byte) error {
	d := decoder{b: body}
	var reserved []string
	for n := d.u32(); n > 0 && d.err == nil; n-- {
		if name := d.name(); strings.HasPrefix(name, reservedExportPrefix) {
			reserved = append(reserved, name)
		}
		d.byte() // kind
		d.u32()  // index
	}
	if err := d.end(); err != nil {
		return err
	}
	if len(reserved) > 0 {
		return &reservedExportError{reserved}
	}
	return nil
}

// instrumentCode appends to out the n function bodies of code (a code
// section without its count), each with check inserted at its entry and after
// the block type of every loop, and counts them in res. firstFunc is the
// index of the first body's function (the number of imported functions), for
// error messages.
func instrumentCode(out, code []byte, n, firstFunc uint32, check, growCall []byte, res *instrumentation) ([]byte, error) {
	d := decoder{b: code}
	var fn []byte // the body being rewritten
	for i := uint32(0); i < n; i++ {
		size := d.u32()
		if d.err == nil && uint64(size) > uint64(len(d.b)-d.pos) {
			d.fail(fmt.Errorf("body of %d bytes runs past the end of the section", size))
		}
		if d.err != nil {
			return nil, fmt.Errorf("function %d: %w", uint64(firstFunc)+uint64(i), d.err)
		}
		var loops, grows int
		var err error
		fn, loops, grows, err = instrumentBody(fn[:0], d.b[d.pos:d.pos+int(size)], check, growCall)
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", uint64(firstFunc)+uint64(i), err)
		}
		d.pos += int(size)
		if uint64(len(fn)) > 1<<32-1 {
			return nil, fmt.Errorf("function %d: instrumented, its body is larger than 4 GiB", uint64(firstFunc)+uint64(i))
		}
		out = appendUleb128(out, uint32(len(fn)))
		out = append(out, fn...)
		res.loops += loops
		res.grows += grows
		res.funcs++
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return out, nil
}

// instrumentBody appends to out the function body b (locals, then code) with
// check inserted before its first instruction and after the block type of
// every loop, and every "memory.grow 0" replaced by growCall (if not nil). It
// returns the extended out and the numbers of loops and of replaced grows.
func instrumentBody(out, b, check, growCall []byte) ([]byte, int, int, error) {
	d := decoder{b: b}
	for n := d.u32(); n > 0 && d.err == nil; n-- { // locals: count, type
		d.u32()
		d.valType()
	}
	if d.err != nil {
		return out, 0, 0, fmt.Errorf("locals: %w", d.err)
	}
	out = append(out, b[:d.pos]...)
	out = append(out, check...)
	copied, loops, grows := d.pos, 0, 0
	for d.pos < len(d.b) {
		at := d.pos
		op := d.byte()
		d.immediates(op)
		if d.err != nil {
			return out, 0, 0, fmt.Errorf("instruction at byte %d of the body: %w", at, d.err)
		}
		switch {
		case op == 0x03: // loop
			out = append(out, b[copied:d.pos]...)
			out = append(out, check...)
			copied = d.pos
			loops++
		case op == 0x40 && growCall != nil && d.pos == at+2 && b[at+1] == 0x00: // memory.grow 0
			out = append(out, b[copied:at]...)
			out = append(out, growCall...)
			copied = d.pos
			grows++
		}
	}
	return append(out, b[copied:]...), loops, grows, nil
}
