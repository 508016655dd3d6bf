// Command upper is a stateless Extism map operator: it emits every record of
// its input with its key and value upper-cased (bytes.ToUpper), keeping
// timestamp and tracking id, and drops timer entries. It is built with
// standard Go for wasip1 against go-pdk.
package main

import (
	"bytes"

	"github.com/extism/go-pdk"

	"github.com/weirstream/weir/host/extism/testdata/plugins/wbatch"
)

var out wbatch.Writer

//go:wasmexport weir_process_batch
func process() int32 {
	r, err := wbatch.NewReader(pdk.Input())
	if err != nil {
		pdk.SetError(err)
		return 1
	}
	out.Reset()
	for r.Next() {
		e := r.Entry()
		if e.Kind == wbatch.KindRecord {
			out.Append(bytes.ToUpper(e.Key), bytes.ToUpper(e.Value), e.Timestamp, e.TrackingID)
		}
	}
	if err := r.Err(); err != nil {
		pdk.SetError(err)
		return 1
	}
	pdk.Output(out.Bytes())
	return 0
}

func main() {}
