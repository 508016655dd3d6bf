package host

import (
	"errors"
	"fmt"
)

// A decoder of the binary format down to the immediates of every
// instruction, for instrument, and the encoders it needs.

// decoder reads the binary format. The first error sticks: later reads
// return zero values and do not advance.
type decoder struct {
	b   []byte
	pos int
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// end fails unless every byte has been read.
func (d *decoder) end() error {
	if d.err == nil && d.pos != len(d.b) {
		d.err = fmt.Errorf("%d unexpected bytes at the end", len(d.b)-d.pos)
	}
	return d.err
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.pos >= len(d.b) {
		d.fail(errTruncated)
		return 0
	}
	c := d.b[d.pos]
	d.pos++
	return c
}

func (d *decoder) skip(n int) {
	if d.err == nil && n > len(d.b)-d.pos {
		d.fail(errTruncated)
	}
	if d.err == nil {
		d.pos += n
	}
}

// u32 reads an unsigned LEB128 number of at most 32 bits.
func (d *decoder) u32() uint32 {
	var v uint64
	for i := 0; i < 5; i++ {
		c := d.byte()
		if d.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if v > 1<<32-1 {
				d.fail(errors.New("LEB128 number does not fit 32 bits"))
				return 0
			}
			return uint32(v)
		}
	}
	d.fail(errors.New("LEB128 number longer than 5 bytes"))
	return 0
}

// leb skips a LEB128 number (signed or not) of at most maxBytes bytes.
func (d *decoder) leb(maxBytes int) {
	for i := 0; i < maxBytes; i++ {
		if c := d.byte(); d.err != nil || c&0x80 == 0 {
			return
		}
	}
	d.fail(fmt.Errorf("LEB128 number longer than %d bytes", maxBytes))
}

func (d *decoder) name() string {
	n := d.u32()
	if d.err == nil && uint64(n) > uint64(len(d.b)-d.pos) {
		d.fail(errTruncated)
	}
	if d.err != nil {
		return ""
	}
	s := string(d.b[d.pos : d.pos+int(n)])
	d.pos += int(n)
	return s
}

// limits reads the limits of a table or memory: flags (bit 0: a maximum
// follows; bit 1: shared; bit 2: 64-bit), minimum and maximum.
func (d *decoder) limits() {
	flags := d.byte()
	d.leb(10)
	if flags&1 != 0 {
		d.leb(10)
	}
}

// Value and heap types that take a heap type after them (typed function
// references: ref null ht, ref ht).
const (
	typeRefNull = 0x63
	typeRef     = 0x64
)

// valType reads a value type: one byte, or a reference type with a heap type.
func (d *decoder) valType() {
	if c := d.byte(); c == typeRefNull || c == typeRef {
		d.leb(5) // heap type: s33
	}
}

// blockType reads a block type: 0x40 (empty), a value type, or a type index
// as a signed 33-bit LEB128 number.
func (d *decoder) blockType() {
	if d.err != nil || d.pos >= len(d.b) {
		d.fail(errTruncated)
		return
	}
	if c := d.b[d.pos]; c == typeRefNull || c == typeRef {
		d.valType()
		return
	}
	d.leb(5)
}

// memarg reads a memory operand: alignment (bit 6 set: a memory index
// follows, multi-memory) and offset.
func (d *decoder) memarg() {
	if align := d.u32(); align&0x40 != 0 {
		d.u32()
	}
	d.leb(10)
}

// unsupported fails the decoder with an error naming the opcode.
func (d *decoder) unsupported(op string, why string) {
	d.fail(fmt.Errorf("unsupported instruction %s: %s", op, why))
}

// immediates reads the immediates of the instruction whose opcode byte op has
// just been read. It knows the MVP, sign extension, non-trapping float to
// int, bulk memory, reference types, multi-value, SIMD, threads, exception
// handling (legacy and try_table), tail calls and typed function references
// (not the GC proposal); anything else fails. (A tail call needs no check of
// its own: the function it enters checks at its entry.)
func (d *decoder) immediates(op byte) {
	switch op {
	case 0x00, 0x01, // unreachable, nop
		0x05, 0x0a, 0x0b, 0x0f, // else, throw_ref, end, return
		0x19, 0x1a, 0x1b, // catch_all, drop, select
		0xd1, 0xd4: // ref.is_null, ref.as_non_null
	case 0x02, 0x03, 0x04, 0x06: // block, loop, if, try
		d.blockType()
	case 0x07, 0x08, 0x09, 0x0c, 0x0d, 0x10, 0x12, 0x14, 0x15, 0x18, // catch, throw, rethrow, br, br_if, call, return_call, call_ref, return_call_ref, delegate
		0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, // local.*, global.*, table.get/set
		0x3f, 0x40, // memory.size, memory.grow: memory index
		0xd2, 0xd5, 0xd6: // ref.func, br_on_null, br_on_non_null
		d.u32()
	case 0x0e: // br_table: labels, default
		for n := d.u32(); n > 0 && d.err == nil; n-- {
			d.u32()
		}
		d.u32()
	case 0x11, 0x13: // call_indirect, return_call_indirect: type, table
		d.u32()
		d.u32()
	case 0x1c: // select with types
		for n := d.u32(); n > 0 && d.err == nil; n-- {
			d.valType()
		}
	case 0x1f: // try_table: block type, catch clauses
		d.blockType()
		for n := d.u32(); n > 0 && d.err == nil; n-- {
			switch kind := d.byte(); kind {
			case 0x00, 0x01: // catch, catch_ref: tag, label
				d.u32()
				d.u32()
			case 0x02, 0x03: // catch_all, catch_all_ref: label
				d.u32()
			default:
				d.unsupported(fmt.Sprintf("try_table with catch kind 0x%02x", kind), "unknown catch kind")
			}
		}
	case 0x41: // i32.const
		d.leb(5)
	case 0x42: // i64.const
		d.leb(10)
	case 0x43: // f32.const
		d.skip(4)
	case 0x44: // f64.const
		d.skip(8)
	case 0xd0: // ref.null: heap type
		d.leb(5)
	case 0xfc:
		d.miscImmediates()
	case 0xfd:
		d.simdImmediates()
	case 0xfe:
		d.atomicImmediates()
	default:
		switch {
		case op >= 0x28 && op <= 0x3e: // loads and stores
			d.memarg()
		case op >= 0x45 && op <= 0xc4: // numeric instructions
		default:
			d.unsupported(fmt.Sprintf("0x%02x", op), "unknown opcode")
		}
	}
}

// miscImmediates reads a 0xFC instruction: saturating truncation, bulk
// memory and table instructions.
func (d *decoder) miscImmediates() {
	switch sub := d.u32(); {
	case d.err != nil:
	case sub <= 0x07: // iNN.trunc_sat_fMM_s/u
	case sub == 0x08: // memory.init: data, memory
		d.u32()
		d.u32()
	case sub == 0x09: // data.drop
		d.u32()
	case sub == 0x0a: // memory.copy: memory, memory
		d.u32()
		d.u32()
	case sub == 0x0b: // memory.fill: memory
		d.u32()
	case sub == 0x0c: // table.init: element segment, table
		d.u32()
		d.u32()
	case sub == 0x0d: // elem.drop
		d.u32()
	case sub == 0x0e: // table.copy: table, table
		d.u32()
		d.u32()
	case sub >= 0x0f && sub <= 0x11: // table.grow, table.size, table.fill
		d.u32()
	default:
		d.unsupported(fmt.Sprintf("0xfc 0x%02x", sub), "unknown opcode")
	}
}

// simdUnassigned marks the opcodes in 0xFD 0x00..0xFF that the SIMD
// proposal leaves unassigned.
var simdUnassigned = func() (m [256]bool) {
	for _, op := range []byte{0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb,
		0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee} {
		m[op] = true
	}
	return m
}()

// simdImmediates reads a 0xFD (SIMD) instruction.
func (d *decoder) simdImmediates() {
	switch sub := d.u32(); {
	case d.err != nil:
	case sub > 0xff || simdUnassigned[sub]:
		d.unsupported(fmt.Sprintf("0xfd 0x%02x", sub), "unknown SIMD opcode (relaxed SIMD is not supported)")
	case sub <= 0x0b, sub == 0x5c, sub == 0x5d: // v128.load*, v128.store, v128.load32/64_zero
		d.memarg()
	case sub == 0x0c, sub == 0x0d: // v128.const, i8x16.shuffle: 16 bytes
		d.skip(16)
	case sub >= 0x15 && sub <= 0x22: // extract_lane, replace_lane: lane index
		d.skip(1)
	case sub >= 0x54 && sub <= 0x5b: // v128.loadNN_lane, v128.storeNN_lane
		d.memarg()
		d.skip(1)
	}
}

// atomicImmediates reads a 0xFE (threads) instruction.
func (d *decoder) atomicImmediates() {
	switch sub := d.u32(); {
	case d.err != nil:
	case sub <= 0x02, sub >= 0x10 && sub <= 0x4e: // notify, wait32/64, atomic loads, stores, rmw
		d.memarg()
	case sub == 0x03: // atomic.fence: a zero byte
		d.skip(1)
	default:
		d.unsupported(fmt.Sprintf("0xfe 0x%02x", sub), "unknown atomic opcode")
	}
}

// appendUleb128 appends v as an unsigned LEB128 number.
func appendUleb128(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendSleb128 appends v as a signed LEB128 number.
func appendSleb128(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendWasmName(b []byte, s string) []byte {
	return append(appendUleb128(b, uint32(len(s))), s...)
}

// appendWasmSection appends a section with its id and size.
func appendWasmSection(b []byte, id byte, body []byte) []byte {
	b = append(b, id)
	b = appendUleb128(b, uint32(len(body)))
	return append(b, body...)
}
