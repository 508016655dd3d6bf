// Command probe is the Extism test plugin of host/extism's host-function and
// failure tests. Each record's value is a command; the plugin runs it for that
// entry and appends a record key=<entry key>, value=<result> to its output.
// Commands (fields separated by spaces; "-" is the empty string, for
// names, keys and values):
//
//	get NAME UKEY            state_get: "v:VALUE" or "code:N"
//	put NAME UKEY VALUE      state_put: "code:N"
//	del NAME UKEY            state_delete
//	clear NAME               state_clear
//	scan NAME START MAX      state_scan: "k=v,k=v more:BOOL" or "code:N"
//	timer KIND TIME          timer_set
//	untimer KIND TIME        timer_delete
//	emit PORT KEY VALUE      emit a one-record batch to PORT
//	emitbad PORT             emit bytes that are not a batch
//	at N COMMAND...          run COMMAND naming entry N instead of this one
//	badptr                   state_get with a name offset that is no block
//	cursor N                 weir_v1_cursor(N)
//	log LEVEL MSG            weir_v1_log
//	print MSG                a line on stdout
//	config KEY               Extism config: "v:VALUE" or "absent"
//	time | rand              the WASI clock (RFC 3339) | 8 random bytes (hex)
//	file PATH                read a file: "err:..." or "read N bytes"
//	http URL                 an Extism HTTP request
//	var                      set an Extism var
//	loop                     run for ever
//	fail MSG | failcode N    return 1 with error MSG | return N
//	panic MSG                panic (a trap)
//	alloc MIB                allocate MIB MiB of Go memory
//	calls                    the number of calls of this instance so far
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/extism/go-pdk"

	"github.com/weirstream/weir/host/extism/testdata/plugins/wbatch"
	"github.com/weirstream/weir/host/extism/testdata/plugins/weirx"
)

var (
	out   wbatch.Writer
	keep  [][]byte // what alloc allocated, kept reachable
	calls int      // calls of this instance, this one included
)

//go:wasmexport weir_process_batch
func process() int32 {
	r, err := wbatch.NewReader(pdk.Input())
	if err != nil {
		pdk.SetError(err)
		return 1
	}
	calls++
	out.Reset()
	for r.Next() {
		i, e := r.Index(), r.Entry()
		weirx.Cursor(i)
		if e.Kind != wbatch.KindRecord {
			out.Append(e.Key, []byte(fmt.Sprintf("timer:%d@%d", e.Kind, e.Timestamp)), e.Timestamp, 0)
			continue
		}
		res, status := run(i, strings.Fields(string(e.Value)))
		if status != 0 {
			return status
		}
		out.Append(e.Key, []byte(res), e.Timestamp, e.TrackingID)
	}
	pdk.Output(out.Bytes())
	return 0
}

// arg returns field s, with "-" meaning the empty string.
func arg(s string) []byte {
	if s == "-" {
		return []byte{}
	}
	return []byte(s)
}

func num(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic(fmt.Sprintf("probe: %q is not a number", s))
	}
	return n
}

func code(c int64) string { return "code:" + strconv.FormatInt(c, 10) }

// run runs command f for entry i and returns its result, or a non-zero status
// to return from the call.
func run(i int, f []string) (string, int32) {
	if len(f) == 0 {
		return "empty command", 0
	}
	switch f[0] {
	case "at":
		return run(int(num(f[1])), f[2:])
	case "get":
		v, c := weirx.StateGet(i, string(arg(f[1])), arg(f[2]))
		if c != weirx.OK {
			return code(c), 0
		}
		return "v:" + string(v), 0
	case "put":
		return code(weirx.StatePut(i, string(arg(f[1])), arg(f[2]), arg(f[3]))), 0
	case "del":
		return code(weirx.StateDelete(i, string(arg(f[1])), arg(f[2]))), 0
	case "clear":
		return code(weirx.StateClear(i, string(arg(f[1])))), 0
	case "scan":
		pairs, more, c := weirx.StateScan(i, string(arg(f[1])), arg(f[2]), int(num(f[3])))
		if c != weirx.OK {
			return code(c), 0
		}
		var b strings.Builder
		for j, p := range pairs {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s=%s", p.Key, p.Value)
		}
		fmt.Fprintf(&b, " more:%v", more)
		return b.String(), 0
	case "timer":
		return code(weirx.TimerSet(i, int(num(f[1])), num(f[2]))), 0
	case "untimer":
		return code(weirx.TimerDelete(i, int(num(f[1])), num(f[2]))), 0
	case "emit":
		var w wbatch.Writer
		w.Append(arg(f[2]), arg(f[3]), 7, 0)
		return code(weirx.Emit(int(num(f[1])), w.Bytes())), 0
	case "emitbad":
		return code(weirx.Emit(int(num(f[1])), []byte("not a batch"))), 0
	case "badptr":
		return code(-weirx.Raw.StateGet(uint64(i), 1<<20+3, 0)), 0
	case "cursor":
		return code(weirx.Raw.Cursor(uint64(num(f[1])))), 0
	case "log":
		return code(weirx.Log(int(num(f[1])), strings.Join(f[2:], " "))), 0
	case "print":
		fmt.Println(strings.Join(f[1:], " "))
		return "printed", 0
	case "config":
		v, ok := pdk.GetConfig(f[1])
		if !ok {
			return "absent", 0
		}
		return "v:" + v, 0
	case "time":
		return time.Now().UTC().Format(time.RFC3339), 0
	case "rand":
		var b [8]byte
		rand.Read(b[:])
		return hex.EncodeToString(b[:]), 0
	case "file":
		b, err := os.ReadFile(f[1])
		if err != nil {
			return "err:" + err.Error(), 0
		}
		return fmt.Sprintf("read %d bytes", len(b)), 0
	case "http":
		res := pdk.NewHTTPRequest(pdk.MethodGet, f[1]).Send()
		return fmt.Sprintf("status %d", res.Status()), 0
	case "var":
		pdk.SetVar("x", []byte("y"))
		return "set", 0
	case "calls":
		return strconv.Itoa(calls), 0
	case "loop":
		for {
		}
	case "fail":
		pdk.SetErrorString(strings.Join(f[1:], " "))
		return "", 1
	case "failcode":
		return "", int32(num(f[1]))
	case "panic":
		panic(strings.Join(f[1:], " "))
	case "alloc":
		b := make([]byte, num(f[1])<<20)
		for j := range b {
			b[j] = byte(j)
		}
		keep = append(keep, b)
		return fmt.Sprintf("allocated %d MiB", num(f[1])), 0
	}
	return "unknown command " + f[0], 0
}

func main() {}
