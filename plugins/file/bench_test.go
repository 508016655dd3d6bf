package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

const benchLines = 100_000

// benchFile writes benchLines lines made by line(i) and returns the directory.
func benchFile(b *testing.B, name string, line func(i int) string) string {
	b.Helper()
	dir := b.TempDir()
	var sb strings.Builder
	for i := range benchLines {
		sb.WriteString(line(i))
		sb.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(sb.Len()))
	return dir
}

// benchRead reads split of src to the end b.N times and reports records/s.
func benchRead(b *testing.B, src runtime.Source, split string) {
	b.Helper()
	ctx := context.Background()
	var w abi.Writer
	records := 0
	b.ReportAllocs()
	for b.Loop() {
		r, err := src.Open(ctx, split, nil, testEnv)
		if err != nil {
			b.Fatal(err)
		}
		for {
			w.Reset()
			n, err := r.Read(ctx, &w, 1024)
			records += n
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		r.Close()
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkSourceLines reads 100-byte lines.
func BenchmarkSourceLines(b *testing.B) {
	dir := benchFile(b, "f", func(i int) string { return fmt.Sprintf("%-100d", i) })
	src, err := NewSource(json.RawMessage(`{"path":"f"}`), dir)
	if err != nil {
		b.Fatal(err)
	}
	benchRead(b, src, "f")
}

// BenchmarkSourceJSONL reads ~100-byte JSON lines, extracting a key and a
// timestamp.
func BenchmarkSourceJSONL(b *testing.B) {
	dir := benchFile(b, "f", func(i int) string {
		return fmt.Sprintf(`{"user":"u%d","ts":%d,"item":%d,"note":"%-40s"}`, i%1000, 1_700_000_000_000+i, i, "x")
	})
	src, err := NewSource(json.RawMessage(`{"path":"f","format":"jsonl","keyField":"user","timestampField":"ts"}`), dir)
	if err != nil {
		b.Fatal(err)
	}
	benchRead(b, src, "f")
}

// BenchmarkSinkWrite writes batches of 1000 100-byte records and pre-commits
// and commits every 100 batches.
func BenchmarkSinkWrite(b *testing.B) {
	for _, format := range []string{"value", "json"} {
		b.Run(format, func(b *testing.B) {
			s, err := NewSink(json.RawMessage(fmt.Sprintf(`{"path":%q,"format":%q}`, b.TempDir(), format)), "")
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			w, err := s.OpenWriter(ctx, runtime.SinkInfo{Subtask: 0, Parallelism: 1})
			if err != nil {
				b.Fatal(err)
			}
			var bw abi.Writer
			bw.Reset()
			for i := range 1000 {
				bw.Append(abi.Entry{Key: fmt.Appendf(nil, "key-%d", i), Value: fmt.Appendf(nil, "%-100d", i), Timestamp: int64(i)})
			}
			batch := bw.Bytes()
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			var ckpt int64
			batches := 0
			for b.Loop() {
				if err := w.Write(ctx, batch); err != nil {
					b.Fatal(err)
				}
				if batches++; batches%100 == 0 {
					ckpt++
					c, err := w.PreCommit(ctx, ckpt)
					if err != nil {
						b.Fatal(err)
					}
					if err := s.Commit(ctx, ckpt, [][]byte{c}); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(batches*1000)/b.Elapsed().Seconds(), "records/s")
			w.Close()
		})
	}
}
