// Command alloc allocates a value-sized slice per record and emits nothing:
// what one heap allocation per record costs a Go guest (malloc and its share
// of the guest's garbage collection).
package main

import weir "github.com/weirstream/weir/sdk/go"

var sink []byte

func process(_ *weir.Context, r weir.Record) error {
	sink = make([]byte, len(r.Value))
	return nil
}

func init() { weir.Serve(weir.Operator{Process: process}) }

func main() {}
