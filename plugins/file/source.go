package file

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// Limits and defaults of the source.
const (
	// DefaultMaxLineBytes is the default of the maxLineBytes option.
	DefaultMaxLineBytes = 1 << 20
	// maxMaxLineBytes bounds the maxLineBytes option: a line is one record
	// value, which abi limits.
	maxMaxLineBytes = abi.MaxValueBytes
	// readBufferBytes is the size of the read buffer; it grows for longer lines
	// up to maxLineBytes+1.
	readBufferBytes = 64 << 10
	// positionBytes is the length of a position: offset and line number.
	positionBytes = 16
)

// Source formats.
const (
	formatLines = "lines"
	formatJSONL = "jsonl"
)

// SourceOptions are the options of the file source in a job spec (see doc.go).
type SourceOptions struct {
	Path           string `json:"path"`
	Format         string `json:"format"`
	KeyField       string `json:"keyField"`
	TimestampField string `json:"timestampField"`
	MaxLineBytes   int    `json:"maxLineBytes"`
}

// Source reads files of lines or JSON lines; each file is a split. It is
// bounded: a split ends at the end of its file as it is when read. A Source is
// safe for concurrent use; its readers are not.
type Source struct {
	baseDir string
	opts    SourceOptions
	glob    bool
}

var _ runtime.Source = (*Source)(nil)

// NewSource returns the file source that the JSON options opts describe.
// Relative paths are relative to baseDir (the job spec's directory). An
// unknown option or a bad value gives an error that names the option.
func NewSource(opts json.RawMessage, baseDir string) (runtime.Source, error) {
	var o SourceOptions
	if err := runtime.DecodeOptions(opts, &o); err != nil {
		return nil, fmt.Errorf("file source: %w", err)
	}
	if o.Format == "" {
		o.Format = formatLines
	}
	if o.MaxLineBytes == 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	var errs []error
	bad := func(option, format string, args ...any) {
		errs = append(errs, fmt.Errorf("file source: option %s: %s", option, fmt.Sprintf(format, args...)))
	}
	glob := strings.ContainsAny(o.Path, "*?[")
	switch {
	case o.Path == "":
		bad("path", "required: a file, a directory or a glob pattern")
	case glob:
		if _, err := filepath.Match(o.Path, ""); err != nil {
			bad("path", "%q is not a valid glob pattern: %v", o.Path, err)
		}
	}
	switch o.Format {
	case formatLines:
		if o.KeyField != "" {
			bad("keyField", "only for format %q (format is %q)", formatJSONL, o.Format)
		}
		if o.TimestampField != "" {
			bad("timestampField", "only for format %q (format is %q)", formatJSONL, o.Format)
		}
	case formatJSONL:
	default:
		bad("format", "%q is not %q or %q", o.Format, formatLines, formatJSONL)
	}
	if o.MaxLineBytes < 0 || o.MaxLineBytes > maxMaxLineBytes {
		bad("maxLineBytes", "%d is outside 1..%d", o.MaxLineBytes, maxMaxLineBytes)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Source{baseDir: baseDir, opts: o, glob: glob}, nil
}

// Splits returns the ids of the matched files: their paths relative to the
// base directory (absolute if they cannot be made relative), with forward
// slashes, sorted. A glob that matches no file, or a directory without files,
// is an error.
func (s *Source) Splits(ctx context.Context) ([]string, error) {
	files, err := s.files()
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(files))
	for i, f := range files {
		ids[i] = s.splitID(f)
	}
	slices.Sort(ids)
	return ids, nil
}

// files returns the regular files that the path option matches.
func (s *Source) files() ([]string, error) {
	p := resolve(s.baseDir, s.opts.Path)
	if s.glob {
		matches, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("file source: path %q: %w", p, err)
		}
		var files []string
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.Mode().IsRegular() {
				files = append(files, m)
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("file source: no files match %q", p)
		}
		return files, nil
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("file source: path: %w", err)
	}
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("file source: path %q is not a regular file or a directory", p)
		}
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("file source: path: %w", err)
	}
	var files []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		f := filepath.Join(p, e.Name())
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("file source: directory %q has no files", p)
	}
	return files, nil
}

func (s *Source) splitID(file string) string {
	if s.baseDir != "" {
		if rel, err := filepath.Rel(s.baseDir, file); err == nil {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(file)
}

// Open starts reading the file of split at position (nil: from the start). A
// position is 16 bytes: the big-endian byte offset of the next line, then the
// big-endian number of lines before it (for error messages). Open checks that
// the offset is at a line start within the file, so that a file changed since
// the checkpoint is reported rather than read from the middle of a line.
func (s *Source) Open(ctx context.Context, split string, position []byte, env runtime.SourceEnv) (runtime.SplitReader, error) {
	var off, line int64
	switch len(position) {
	case 0:
	case positionBytes:
		off = int64(binary.BigEndian.Uint64(position))
		line = int64(binary.BigEndian.Uint64(position[8:]))
		if off < 0 || line < 0 {
			return nil, fmt.Errorf("file source: split %q: position %x has a negative offset or line", split, position)
		}
	default:
		return nil, fmt.Errorf("file source: split %q: position of %d bytes, want %d", split, len(position), positionBytes)
	}
	path := resolve(s.baseDir, filepath.FromSlash(split))
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("file source: split %q: %w", split, err)
	}
	if off > 0 {
		if err := checkLineStart(f, off); err != nil {
			f.Close()
			return nil, fmt.Errorf("file source: split %q: position %d: %w", split, off, err)
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("file source: split %q: seek to %d: %w", split, off, err)
		}
	}
	r := &splitReader{
		split:        split,
		jsonl:        s.opts.Format == formatJSONL,
		keyField:     newField(s.opts.KeyField),
		tsField:      newField(s.opts.TimestampField),
		maxLineBytes: s.opts.MaxLineBytes,
		f:            f,
		buf:          make([]byte, min(readBufferBytes, s.opts.MaxLineBytes+1)),
		off:          off,
		line:         line,
	}
	r.setPosition()
	return r, nil
}

// checkLineStart reports an error unless off is the file's size or follows a
// newline.
func checkLineStart(f *os.File, off int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if off > fi.Size() {
		return fmt.Errorf("offset is past the end of the file (%d bytes); the file changed since the checkpoint", fi.Size())
	}
	if off == fi.Size() {
		return nil
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], off-1); err != nil {
		return err
	}
	if b[0] != '\n' {
		return errors.New("offset is not at the start of a line; the file changed since the checkpoint")
	}
	return nil
}

// splitReader reads one file. buf[r:w] holds bytes read from the file but not
// yet returned; off is the file offset of buf[r].
type splitReader struct {
	split             string
	jsonl             bool
	keyField, tsField field
	maxLineBytes      int

	f       *os.File
	buf     []byte
	r, w    int
	scanned int // buf[r:r+scanned] has no newline
	eof     bool
	done    bool  // the end of the file was returned
	err     error // the error that stopped reading, returned by every Read

	off  int64 // file offset of the next line
	line int64 // lines before off
	pos  [positionBytes]byte
	key  []byte // scratch for jsonl keys
}

// Read appends up to maxRecords records, one per line (blank lines of jsonl
// files are skipped), and returns io.EOF at the end of the file. An error (a
// bad or too long line, a read error) is returned again by every later Read;
// the position stays before the line that failed.
func (r *splitReader) Read(ctx context.Context, w *abi.Writer, maxRecords int) (n int, err error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.done {
		return 0, io.EOF
	}
	for n < maxRecords {
		raw, err := r.nextLine()
		if err == io.EOF {
			r.done = true
			break
		}
		if err != nil {
			r.err = err
			break
		}
		line := trimEOL(raw)
		if !r.jsonl {
			w.Append(abi.Entry{Value: line, Timestamp: abi.NoTimestamp})
			n++
		} else {
			e, skip, err := r.parseJSONL(line)
			if err != nil {
				r.err = fmt.Errorf("file source: %s: line %d (byte %d): %w", r.split, r.line+1, r.off, err)
				break
			}
			if !skip {
				w.Append(e)
				n++
			}
		}
		r.off += int64(len(raw))
		r.line++
	}
	r.setPosition()
	switch {
	case r.err != nil:
		return n, r.err
	case r.done:
		return n, io.EOF
	}
	return n, nil
}

// parseJSONL turns one JSON line into a record; skip is true for a blank line.
func (r *splitReader) parseJSONL(line []byte) (e abi.Entry, skip bool, err error) {
	if skipSpace(line, 0) == len(line) {
		return e, true, nil
	}
	kv, tv, isObject, err := parseLine(line, r.keyField, r.tsField)
	if err != nil {
		return e, false, err
	}
	e = abi.Entry{Value: line, Timestamp: abi.NoTimestamp}
	if !isObject && (r.keyField.name != "" || r.tsField.name != "") {
		return e, false, fmt.Errorf("the line is %s, not an object with the key or timestamp field", jsonType(bytes.TrimSpace(line)))
	}
	if r.keyField.name != "" {
		if kv == nil {
			return e, false, fmt.Errorf("no key field %q", r.keyField.name)
		}
		r.key, err = appendKey(r.key[:0], kv)
		if err != nil {
			return e, false, fmt.Errorf("key field %q: %w", r.keyField.name, err)
		}
		e.Key = r.key
	}
	if r.tsField.name != "" {
		if tv == nil {
			return e, false, fmt.Errorf("no timestamp field %q", r.tsField.name)
		}
		e.Timestamp, err = parseTimestamp(tv)
		if err != nil {
			return e, false, fmt.Errorf("timestamp field %q: %w", r.tsField.name, err)
		}
	}
	return e, false, nil
}

// trimEOL removes the line ending: "\n" or "\r\n".
func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// nextLine returns the next line with its "\n" (the last line of a file may
// have none); it aliases buf until the next call. It returns io.EOF at the end
// of the file, and an error for a line longer than maxLineBytes.
func (r *splitReader) nextLine() ([]byte, error) {
	for {
		if i := bytes.IndexByte(r.buf[r.r+r.scanned:r.w], '\n'); i >= 0 {
			end := r.r + r.scanned + i + 1
			if end-r.r-1 > r.maxLineBytes {
				return nil, r.tooLong()
			}
			line := r.buf[r.r:end]
			r.r, r.scanned = end, 0
			return line, nil
		}
		r.scanned = r.w - r.r
		if r.scanned > r.maxLineBytes {
			return nil, r.tooLong()
		}
		if r.eof {
			if r.r == r.w {
				return nil, io.EOF
			}
			line := r.buf[r.r:r.w]
			r.r, r.scanned = r.w, 0
			return line, nil
		}
		if r.r > 0 {
			r.w = copy(r.buf, r.buf[r.r:r.w])
			r.r = 0
		}
		if r.w == len(r.buf) {
			nb := make([]byte, min(2*len(r.buf), r.maxLineBytes+1))
			copy(nb, r.buf[:r.w])
			r.buf = nb
		}
		n, err := r.f.Read(r.buf[r.w:])
		r.w += n
		if err == io.EOF {
			r.eof = true
		} else if err != nil {
			return nil, fmt.Errorf("file source: %s: read at byte %d: %w", r.split, r.off+int64(r.w-r.r), err)
		}
	}
}

func (r *splitReader) tooLong() error {
	return fmt.Errorf("file source: %s: line %d at byte %d is longer than maxLineBytes (%d bytes)", r.split, r.line+1, r.off, r.maxLineBytes)
}

func (r *splitReader) setPosition() {
	binary.BigEndian.PutUint64(r.pos[:], uint64(r.off))
	binary.BigEndian.PutUint64(r.pos[8:], uint64(r.line))
}

// Position returns the offset and line number of the next line (16 bytes, see
// Open). The slice is the caller's.
func (r *splitReader) Position() []byte { return bytes.Clone(r.pos[:]) }

// Close closes the file.
func (r *splitReader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
