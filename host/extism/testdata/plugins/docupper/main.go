package main

import (
	"encoding/binary"

	"github.com/extism/go-pdk"
)

var le = binary.LittleEndian

//go:wasmexport weir_process_batch
func process() int32 {
	in := pdk.Input()
	out := append([]byte(nil), in[:32]...) // the header: count patched below
	le.PutUint64(out[16:], 0)              // processing time: 0 in emitted batches
	n, off, kept := le.Uint32(in[4:]), 32, uint32(0)
	for i := uint32(0); i < n; i++ {
		e := in[off:]
		kl, vl, hl := int(le.Uint32(e[4:])), int(le.Uint32(e[8:])), int(le.Uint32(e[12:]))
		if e[0] == 0 { // a record: copy it, upper-case its key and value
			start := len(out)
			out = append(out, e[:32+kl+vl+hl]...)
			for j, c := range out[start+32 : start+32+kl+vl] {
				if 'a' <= c && c <= 'z' {
					out[start+32+j] = c - 'a' + 'A'
				}
			}
			kept++
		}
		off += 32 + kl + vl + hl
	}
	le.PutUint32(out[4:], kept)
	pdk.Output(out)
	return 0
}

func main() {}
