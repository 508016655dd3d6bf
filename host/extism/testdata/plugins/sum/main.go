// Command sum is a stateful Extism operator on a keyed input: for each record
// it adds the record's value (a decimal integer) to the running sum of the
// record's key, kept in Weir's keyed state "sum", and emits key=sum on its
// main output (the call's output). It also sets an event-time timer at
// finalTime for the key; when that timer fires it emits key="final:"+sum to
// side output 1 through the weir_v1_emit host function. A value that is not an
// integer fails the batch with a plugin error naming the entry.
package main

import (
	"fmt"
	"strconv"

	"github.com/extism/go-pdk"

	"github.com/weirstream/weir/host/extism/testdata/plugins/wbatch"
	"github.com/weirstream/weir/host/extism/testdata/plugins/weirx"
)

// finalTime is the event time of every key's timer: after all test input, so
// it fires at the end of input (the watermark then jumps to its maximum).
const finalTime = 1 << 40

var (
	out   wbatch.Writer
	final wbatch.Writer
)

//go:wasmexport weir_process_batch
func process() int32 {
	r, err := wbatch.NewReader(pdk.Input())
	if err != nil {
		pdk.SetError(err)
		return 1
	}
	out.Reset()
	final.Reset()
	for r.Next() {
		i, e := r.Index(), r.Entry()
		weirx.Cursor(i)
		if err := step(i, e); err != nil {
			pdk.SetError(fmt.Errorf("entry %d: %w", i, err))
			return 1
		}
	}
	if err := r.Err(); err != nil {
		pdk.SetError(err)
		return 1
	}
	if final.Count() > 0 {
		if c := weirx.Emit(1, final.Bytes()); c != weirx.OK {
			pdk.SetErrorString(fmt.Sprintf("emit to port 1: code %d", c))
			return 1
		}
	}
	pdk.Output(out.Bytes())
	return 0
}

func step(i int, e *wbatch.Entry) error {
	sum, err := current(i)
	if err != nil {
		return err
	}
	switch e.Kind {
	case wbatch.KindRecord:
		n, err := strconv.ParseInt(string(e.Value), 10, 64)
		if err != nil {
			return fmt.Errorf("value %q is not an integer", e.Value)
		}
		sum += n
		v := strconv.AppendInt(nil, sum, 10)
		if c := weirx.StatePut(i, "sum", nil, v); c != weirx.OK {
			return fmt.Errorf("state_put: code %d", c)
		}
		if c := weirx.TimerSet(i, wbatch.KindEventTimer, finalTime); c != weirx.OK {
			return fmt.Errorf("timer_set: code %d", c)
		}
		out.Append(e.Key, v, e.Timestamp, e.TrackingID)
	case wbatch.KindEventTimer:
		final.Append(e.Key, strconv.AppendInt([]byte("final:"), sum, 10), e.Timestamp, 0)
	}
	return nil
}

// current returns the running sum of entry i's key (0 if there is none yet).
func current(i int) (int64, error) {
	v, c := weirx.StateGet(i, "sum", nil)
	switch c {
	case weirx.NotFound:
		return 0, nil
	case weirx.OK:
		return strconv.ParseInt(string(v), 10, 64)
	}
	return 0, fmt.Errorf("state_get: code %d", c)
}

func main() {}
