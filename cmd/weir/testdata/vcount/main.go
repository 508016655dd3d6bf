// Command vcount is the versioned keyed counter of the server tests: for each
// record it counts the records of its key and emits
// "v<version>:<count*factor>:<value>", where factor is 10 for even versions
// and 1 for odd ones. The version is the two digits at the end of marker: the
// tests build the module once and patch those two bytes to make distinct
// modules (distinct digests) without a build per version.
package main

import (
	"errors"
	"strconv"

	weir "github.com/weirstream/weir/sdk/go"
)

// marker ends in the version, two decimal digits.
var marker = "weir-vcount-version:01"

var counts = weir.NewValueState("count", weir.Int64)

func init() {
	version := marker[len(marker)-2:]
	if version[0] == '0' {
		version = version[1:]
	}
	v, _ := strconv.Atoi(version)
	f := int64(1)
	if v%2 == 0 {
		f = 10
	}
	weir.Serve(weir.Operator{Migrate: func(from string) error {
		// Versions 90 and up refuse to take over: the tests' refused migration.
		if v >= 90 {
			return errors.New("v" + version + " refuses to take over from " + from)
		}
		return nil
	}, Process: func(ctx *weir.Context, r weir.Record) error {
		n, _, err := counts.Get(ctx)
		if err != nil {
			return err
		}
		n++
		if err := counts.Set(ctx, n); err != nil {
			return err
		}
		out := make([]byte, 0, 64)
		out = append(out, 'v')
		out = append(out, version...)
		out = append(out, ':')
		out = strconv.AppendInt(out, n*f, 10)
		out = append(out, ':')
		out = append(out, r.Value...)
		ctx.Emit(weir.Record{Key: r.Key, Value: out})
		return nil
	}})
}

func main() {}
