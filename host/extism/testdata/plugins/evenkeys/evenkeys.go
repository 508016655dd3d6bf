// Package evenkeys is the stateless operator of the Extism benchmark, shared by
// the Extism plugin (../filter) and the Weir ABI guest (../abifilter) so that
// both run the same code: it keeps the records whose key ends in an even digit
// (precisely: whose last key byte minus '0' is even) and upper-cases the first
// byte of their value; a filter and a map in one, the logic of
// internal/enginebench/filter.
package evenkeys

import "encoding/binary"

var le = binary.LittleEndian

// Apply appends to dst the batch of records that batch (a valid Weir batch)
// maps to, and returns it with the number of records kept. Entries other than
// records are dropped. It copies kept entries whole, as the ABI guests do, and
// resets the processing time and cursor fields of the header it copies.
func Apply(dst, batch []byte) ([]byte, int) {
	count := le.Uint32(batch[4:])
	dst = append(dst[:0], batch[:32]...)
	le.PutUint64(dst[16:], 0) // processing time: 0 in emitted batches
	le.PutUint32(dst[24:], 0) // cursor
	off, kept := 32, 0
	for i := uint32(0); i < count; i++ {
		e := batch[off:]
		kl := int(le.Uint32(e[4:]))
		vl := int(le.Uint32(e[8:]))
		size := 32 + kl + vl + int(le.Uint32(e[12:]))
		if e[0] == 0 && kl > 0 && (e[32+kl-1]-'0')%2 == 0 {
			start := len(dst)
			dst = append(dst, e[:size]...)
			if v := dst[start+32+kl:]; vl > 0 && v[0] >= 'a' && v[0] <= 'z' {
				v[0] -= 'a' - 'A'
			}
			kept++
		}
		off += size
	}
	le.PutUint32(dst[4:], uint32(kept))
	return dst, kept
}
