package jobspec

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxErrors bounds how many errors one Parse, Build or Load reports; the rest
// are counted in a last error. A spec with thousands of mistakes needs the first
// few fixed, not a wall of text.
const maxErrors = 50

// maxKeptErrors bounds the errors kept in memory while a spec is checked (the
// reported ones are the first maxErrors of these by position).
const maxKeptErrors = 1000

// Error is one problem in a job spec, with where it is. Parse, Build and Load
// return an errors.Join of *Error values (use errors.As to get the first, or
// the Unwrap() []error method of the joined error to get them all).
type Error struct {
	File   string // the file name given to Parse or Load; may be empty
	Line   int    // 1-based; 0 when the problem has no single place
	Column int    // 1-based; 0 when unknown
	// Path is the field the problem is in, like "operators[1].inputs[0].from",
	// or a node with its name, like "sources[0] (lines)"; empty for the whole spec.
	Path string
	Err  error // what is wrong
}

// Error formats e as "file:line:column: path: what is wrong", leaving out the
// parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("invalid job spec")
	}
	return b.String()
}

// Unwrap returns the underlying error, so errors.Is sees a plugin's own errors.
func (e *Error) Unwrap() error { return e.Err }

// errorList collects the errors of one pass over a spec.
type errorList struct {
	file  string
	errs  []*Error // the first maxKeptErrors
	total int      // all errors, kept or not
}

// add records e.
func (l *errorList) add(e *Error) {
	l.total++
	if len(l.errs) < maxKeptErrors {
		l.errs = append(l.errs, e)
	}
}

// at records a problem at node n (nil: no position) in field path.
func (l *errorList) at(n *yaml.Node, path string, err error) {
	e := &Error{File: l.file, Path: path, Err: err}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	l.add(e)
}

// atf is at with a formatted message.
func (l *errorList) atf(n *yaml.Node, path, format string, args ...any) {
	l.at(n, path, fmt.Errorf(format, args...))
}

// atPos records a problem at a stored position.
func (l *errorList) atPos(p pos, path string, err error) {
	l.add(&Error{File: l.file, Line: p.line, Column: p.col, Path: path, Err: err})
}

// join sorts the errors by position (those without one last, otherwise in the
// order they were found), caps them at maxErrors and joins them; nil when there
// are none.
func (l *errorList) join() error {
	if len(l.errs) == 0 {
		return nil
	}
	sort.SliceStable(l.errs, func(i, j int) bool {
		a, b := l.errs[i], l.errs[j]
		if (a.Line == 0) != (b.Line == 0) {
			return b.Line == 0
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	n := min(len(l.errs), maxErrors)
	out := make([]error, 0, n+1)
	for _, e := range l.errs[:n] {
		out = append(out, e)
	}
	if more := l.total - n; more > 0 {
		out = append(out, &Error{File: l.file, Err: fmt.Errorf("%d more errors not shown", more)})
	}
	return errors.Join(out...)
}

// pos is a place in the spec file.
type pos struct{ line, col int }

func posOf(n *yaml.Node) pos {
	if n == nil {
		return pos{}
	}
	return pos{n.Line, n.Column}
}
