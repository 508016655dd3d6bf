package file

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/weirstream/weir/internal/lineformat"
	"github.com/weirstream/weir/runtime"
)

// Sink formats (the encoding is shared with other file-writing sinks).
const (
	formatValue    = lineformat.Value
	formatKeyValue = lineformat.KeyValue
	formatJSON     = lineformat.JSON
)

// Limits and names of the sink.
const (
	// DefaultPrefix is the default of the prefix option.
	DefaultPrefix = "part"
	// InProgressDir is the subdirectory of the output directory that holds
	// files not yet committed. Readers of the output must ignore it.
	InProgressDir = ".inprogress"
	// writeBufferBytes is the buffer between a writer and its file.
	writeBufferBytes = 256 << 10
	// instanceIDBytes is the random part of in-progress file names.
	instanceIDBytes = 8
)

// SinkOptions are the options of the file sink in a job spec (see doc.go).
type SinkOptions struct {
	Path   string `json:"path"`
	Format string `json:"format"`
	Prefix string `json:"prefix"`
}

// Sink writes records to files in a directory, exactly once: each writer
// appends to an in-progress file, which a checkpoint's commit renames to its
// final name (see doc.go). A Sink is safe for concurrent use.
type Sink struct {
	dir    string // the output directory
	format string
	prefix string
}

var _ runtime.Sink = (*Sink)(nil)

// NewSink returns the file sink that the JSON options opts describe. A relative
// path is relative to baseDir (the job spec's directory). An unknown option or
// a bad value gives an error that names the option. NewSink does not touch the
// file system; the directory is created by Recover and OpenWriter.
func NewSink(opts json.RawMessage, baseDir string) (runtime.Sink, error) {
	var o SinkOptions
	if err := runtime.DecodeOptions(opts, &o); err != nil {
		return nil, fmt.Errorf("file sink: %w", err)
	}
	if o.Format == "" {
		o.Format = formatValue
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	var errs []error
	bad := func(option, format string, args ...any) {
		errs = append(errs, fmt.Errorf("file sink: option %s: %s", option, fmt.Sprintf(format, args...)))
	}
	if o.Path == "" {
		bad("path", "required: the output directory")
	}
	switch o.Format {
	case formatValue, formatKeyValue, formatJSON:
	default:
		bad("format", "%q is not %q, %q or %q", o.Format, formatValue, formatKeyValue, formatJSON)
	}
	if err := lineformat.CheckPrefix(o.Prefix); err != nil {
		bad("prefix", "%q %v", o.Prefix, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Sink{dir: resolve(baseDir, o.Path), format: o.Format, prefix: o.Prefix}, nil
}

// finalName is the name of the committed file of subtask for checkpoint ckpt.
func (s *Sink) finalName(ckpt int64, subtask int) string {
	return lineformat.PartName(s.prefix, ckpt, subtask)
}

// parseFinal returns the checkpoint of a final file name of this sink; ok is
// false for any other name.
func (s *Sink) parseFinal(name string) (ckpt int64, ok bool) {
	return lineformat.ParsePartName(s.prefix, name)
}

// inProgressName is the name of the seq'th in-progress file of a writer.
func (s *Sink) inProgressName(subtask int, instance string, seq int) string {
	return fmt.Sprintf("%s-%04d-%s-%06d", s.prefix, subtask, instance, seq)
}

// isInProgress reports whether name is an in-progress file name of this sink.
func (s *Sink) isInProgress(name string) bool {
	rest, seq, ok1 := lineformat.CutLast(name)
	rest, inst, ok2 := lineformat.CutLast(rest)
	rest, subtask, ok3 := lineformat.CutLast(rest)
	return ok1 && ok2 && ok3 && rest == s.prefix && lineformat.Digits(seq, 6) && lineformat.Digits(subtask, 4) && isHex(inst, 2*instanceIDBytes)
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// committable is what PreCommit returns, as JSON: one closed in-progress file
// and its final name.
type committable struct {
	Checkpoint int64  `json:"checkpoint"`
	Subtask    int    `json:"subtask"`
	InProgress string `json:"inProgress"` // name in InProgressDir
	Final      string `json:"final"`      // name in the output directory
	Bytes      int64  `json:"bytes"`
	Records    int64  `json:"records"`
}

// OpenWriter creates the output directories if needed and returns the writer
// of subtask info.Subtask. Its in-progress files carry a random instance id, so
// a restarted job never reuses a name.
func (s *Sink) OpenWriter(ctx context.Context, info runtime.SinkInfo) (runtime.SinkWriter, error) {
	if info.Subtask < 0 {
		return nil, fmt.Errorf("file sink %s: subtask %d is negative", s.dir, info.Subtask)
	}
	if err := makeDirs(filepath.Join(s.dir, InProgressDir)); err != nil {
		return nil, fmt.Errorf("file sink: %w", err)
	}
	var id [instanceIDBytes]byte
	rand.Read(id[:])
	return &sinkWriter{sink: s, subtask: info.Subtask, instance: hex.EncodeToString(id[:])}, nil
}

// Commit renames the in-progress files of committables to their final names
// and syncs the directories. It is idempotent: a committable whose final file
// exists and whose in-progress file is gone is already committed. A
// committable whose two files are both missing is an error: that output is
// lost. Commit tries every committable and reports every failure.
func (s *Sink) Commit(ctx context.Context, checkpointID int64, committables [][]byte) error {
	var errs []error
	for i, raw := range committables {
		if len(raw) == 0 {
			continue
		}
		c, err := s.decodeCommittable(checkpointID, raw)
		if err == nil {
			err = s.commitOne(c)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("file sink %s: checkpoint %d: committable %d: %w", s.dir, checkpointID, i, err))
		}
	}
	if len(committables) > 0 {
		for _, d := range []string{s.dir, filepath.Join(s.dir, InProgressDir)} {
			if err := syncDir(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("file sink: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

func (s *Sink) decodeCommittable(checkpointID int64, raw []byte) (committable, error) {
	var c committable
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("not a committable of the file sink: %w", err)
	}
	// A committable of an earlier checkpoint is legitimate: the coordinator
	// carries the pre-commits of an abandoned checkpoint into the next one, so
	// Commit(N) may receive committables pre-committed at N-1 or before. One
	// of a later checkpoint cannot be.
	if c.Checkpoint > checkpointID {
		return c, fmt.Errorf("committable is of checkpoint %d, later than %d", c.Checkpoint, checkpointID)
	}
	if !s.isInProgress(c.InProgress) {
		return c, fmt.Errorf("in-progress name %q is not one of this sink (prefix %q)", c.InProgress, s.prefix)
	}
	if ck, ok := s.parseFinal(c.Final); !ok || ck != c.Checkpoint {
		return c, fmt.Errorf("final name %q is not one of this sink for checkpoint %d (prefix %q)", c.Final, c.Checkpoint, s.prefix)
	}
	return c, nil
}

func (s *Sink) commitOne(c committable) error {
	src := filepath.Join(s.dir, InProgressDir, c.InProgress)
	dst := filepath.Join(s.dir, c.Final)
	fi, err := os.Stat(src)
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(dst); err == nil {
			return nil // committed before
		}
		return fmt.Errorf("output lost: neither the in-progress file %s nor the final file %s exists", src, dst)
	}
	if err != nil {
		return err
	}
	if fi.Size() != c.Bytes {
		return fmt.Errorf("in-progress file %s has %d bytes but had %d at pre-commit; it was changed", src, fi.Size(), c.Bytes)
	}
	return os.Rename(src, dst)
}

// Recover prepares the output for a job restarted from checkpointID: it commits
// committables (those of checkpointID), deletes every in-progress file of this
// sink (same prefix; files of other prefixes are left alone), and deletes the
// final files of this sink whose checkpoint is after checkpointID, which the
// restarted job will write again.
func (s *Sink) Recover(ctx context.Context, checkpointID int64, committables [][]byte) error {
	inprog := filepath.Join(s.dir, InProgressDir)
	if err := makeDirs(inprog); err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	if err := s.Commit(ctx, checkpointID, committables); err != nil {
		return fmt.Errorf("file sink: recover checkpoint %d: %w", checkpointID, err)
	}
	var errs []error
	remove := func(dir string, keep func(name string) bool) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, e := range entries {
			if !keep(e.Name()) {
				if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
				}
			}
		}
		if err := syncDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	remove(inprog, func(name string) bool { return !s.isInProgress(name) })
	remove(s.dir, func(name string) bool {
		ckpt, ok := s.parseFinal(name)
		return !ok || ckpt <= checkpointID
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("file sink: recover checkpoint %d: %w", checkpointID, err)
	}
	return nil
}

// makeDirs creates dir and its missing parents, and syncs the parent of each
// directory it created so that the new entries survive a crash.
func makeDirs(dir string) error {
	var created []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		created = append(created, d)
	}
	if len(created) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range created {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// sinkWriter appends the records of one subtask to its current in-progress
// file, opened at the first record after a PreCommit.
type sinkWriter struct {
	sink     *Sink
	subtask  int
	instance string // random, unique per writer instance
	seq      int    // number of the next in-progress file

	f       *os.File // the current in-progress file, nil if none
	name    string   // its name in InProgressDir
	bw      *bufio.Writer
	bytes   int64 // written to f
	records int64 // written to f
	line    []byte
	err     error // a failed write leaves the writer unusable
}

// Write formats each record of batch as one line and appends it to the
// in-progress file. A record the format cannot represent as one line (a value
// with a newline, a key with a tab in keyvalue) is an error naming the entry.
func (w *sinkWriter) Write(ctx context.Context, batch []byte) error {
	if w.err != nil {
		return w.err
	}
	var err error
	w.line, err = lineformat.Lines(batch, w.sink.format, w.line, func(line []byte) error {
		if w.f == nil {
			if err := w.open(); err != nil {
				return err
			}
		}
		n, err := w.bw.Write(line)
		w.bytes += int64(n)
		if err != nil {
			w.err = fmt.Errorf("file sink: write %s: %w", w.f.Name(), err)
			return w.err
		}
		w.records++
		return nil
	})
	var be *lineformat.BatchError
	if errors.As(err, &be) {
		return fmt.Errorf("file sink: subtask %d: %w", w.subtask, err)
	}
	return err
}

func (w *sinkWriter) open() error {
	w.name = w.sink.inProgressName(w.subtask, w.instance, w.seq)
	w.seq++
	path := filepath.Join(w.sink.dir, InProgressDir, w.name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	w.f, w.bytes, w.records = f, 0, 0
	if w.bw == nil {
		w.bw = bufio.NewWriterSize(f, writeBufferBytes)
	} else {
		w.bw.Reset(f)
	}
	return nil
}

// PreCommit flushes, syncs and closes the in-progress file and returns a
// committable naming it and its final name <prefix>-<checkpoint>-<subtask>.
// With nothing written since the last PreCommit it returns nil and creates no
// file. The next Write opens a new in-progress file.
func (w *sinkWriter) PreCommit(ctx context.Context, checkpointID int64) ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	if checkpointID < 1 {
		return nil, fmt.Errorf("file sink: subtask %d: checkpoint id %d is not positive", w.subtask, checkpointID)
	}
	if w.f == nil {
		return nil, nil
	}
	f := w.f
	err := w.bw.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	if err == nil {
		err = syncDir(filepath.Join(w.sink.dir, InProgressDir))
	}
	if err != nil {
		w.err = fmt.Errorf("file sink: pre-commit checkpoint %d: %s: %w", checkpointID, f.Name(), err)
		return nil, w.err
	}
	return json.Marshal(committable{
		Checkpoint: checkpointID,
		Subtask:    w.subtask,
		InProgress: w.name,
		Final:      w.sink.finalName(checkpointID, w.subtask),
		Bytes:      w.bytes,
		Records:    w.records,
	})
}

// Close closes and deletes the in-progress file, if any: what was written
// since the last PreCommit can never be committed.
func (w *sinkWriter) Close() error {
	if w.f == nil {
		return nil
	}
	f := w.f
	w.f = nil
	err := f.Close()
	if rerr := os.Remove(f.Name()); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("file sink: close: %w", err)
	}
	return nil
}
