package jobspec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// This file reads typed values out of yaml.Node trees: every reader checks the
// node's kind and tag itself, so that an error can say which field, where, what
// was found and what is allowed (yaml.v3's own decoding errors say "cannot
// unmarshal !!str into int" and stop at the first unknown field).

// Limits on what a spec may expand to. The file itself is bounded by
// maxSpecBytes; these bound what YAML aliases can multiply it into.
const (
	maxJSONBytes      = 1 << 20 // JSON of one options or config value
	maxTotalJSONBytes = 8 << 20 // JSON of all options and config values of a spec
	maxJSONDepth      = 100     // nesting of maps and lists in options or config
	// maxFields bounds the keys of a spec mapping (not options or config)
	// that are looked at; a valid one has at most 9.
	maxFields = 64
)

// decoder walks one spec's nodes and collects its errors.
type decoder struct {
	errorList
	jsonBudget int  // bytes of JSON still allowed in this spec (maxTotalJSONBytes)
	overBudget bool // the spec's JSON went past maxTotalJSONBytes (reported once)
	edges      int  // inputs decoded so far (maxEdges)
}

// resolve follows an alias to the node it names. Anchors are only set on
// scalars, lists and maps, so one step is enough.
func resolve(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// isNull reports whether n is absent or a YAML null ("~", "null" or nothing).
func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names what n is, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := short(n.Value)
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "boolean " + v
		case "!!int", "!!float":
			return "number " + v
		case "!!str":
			return q(n.Value)
		default:
			return fmt.Sprintf("%s %s", short(n.ShortTag()), q(n.Value))
		}
	}
	return "an unexpected YAML node"
}

// field is one key of a mapping, with its value.
type field struct {
	key, val *yaml.Node
}

// mapping checks that n is a mapping (or null, which counts as empty) whose keys
// are all in known, without duplicates, and returns the fields by key. It
// returns nil and records an error when n is something else.
func (d *decoder) mapping(n *yaml.Node, path string, known ...string) map[string]field {
	n = resolve(n)
	if isNull(n) {
		return map[string]field{}
	}
	if n.Kind != yaml.MappingNode {
		d.atf(n, path, "expected a mapping with fields %s, got %s", strings.Join(known, ", "), describe(n))
		return nil
	}
	if len(n.Content)/2 > maxFields {
		d.atf(n, path, "%d fields (known: %s)", len(n.Content)/2, strings.Join(known, ", "))
		return nil
	}
	out := make(map[string]field, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			d.atf(k, path, "unsupported key %s (merge keys and complex keys are not allowed)", describe(k))
			continue
		}
		name := k.Value
		if !slices.Contains(known, name) {
			d.atf(k, join(path, short(name)), "unknown field %s (known: %s)", q(name), strings.Join(known, ", "))
			continue
		}
		if prev, dup := out[name]; dup {
			d.atf(k, join(path, short(name)), "duplicate field (first at line %d)", prev.key.Line)
			continue
		}
		out[name] = field{key: k, val: v}
	}
	return out
}

// list checks that n is a list (or null, which counts as empty) and returns
// its items.
func (d *decoder) list(n *yaml.Node, path string, what string) []*yaml.Node {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.atf(n, path, "expected a list of %s, got %s", what, describe(n))
		return nil
	}
	return n.Content
}

// str reads a scalar as a string. Any non-null scalar is accepted as written,
// so `name: 2024` is the name "2024".
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		d.atf(n, path, "expected a string, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}

// maxNameBytes bounds node and job names, which end up in file and object names.
const maxNameBytes = 64

// name reads a job or node name: 1..maxNameBytes bytes of ASCII letters,
// digits, '-' and '_'.
func (d *decoder) name(n *yaml.Node, path string) (string, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return "", false
	}
	if err := checkName(s); err != nil {
		d.at(resolve(n), path, err)
		return s, false
	}
	return s, true
}

func checkName(s string) error {
	if s == "" {
		return errors.New("a name must not be empty")
	}
	if len(s) > maxNameBytes {
		return fmt.Errorf("name %s is %d bytes long (at most %d)", q(s[:20]+"..."), len(s), maxNameBytes)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_':
		case c >= utf8.RuneSelf:
			return fmt.Errorf("name %s has a non-ASCII character at byte %d (allowed: letters, digits, '-', '_')", q(s), i)
		default:
			return fmt.Errorf("name %s has the character %q at byte %d (allowed: letters, digits, '-', '_')", q(s), c, i)
		}
	}
	return nil
}

// boolean reads true or false.
func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		d.atf(n, path, "expected true or false, got %s", describe(n))
		return false, false
	}
	var v bool
	if err := n.Decode(&v); err != nil {
		d.atf(n, path, "expected true or false, got %s", describe(n))
		return false, false
	}
	return v, true
}

// integer reads a whole number in [lo, hi].
func (d *decoder) integer(n *yaml.Node, path string, lo, hi int64) (int64, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.atf(n, path, "expected a whole number, got %s", describe(n))
		return 0, false
	}
	var v int64
	if err := n.Decode(&v); err != nil {
		d.atf(n, path, "%s is not a whole number in %d..%d", describe(n), lo, hi)
		return 0, false
	}
	if v < lo || v > hi {
		d.atf(n, path, "%d is out of range (allowed: %d..%d)", v, lo, hi)
		return 0, false
	}
	return v, true
}

// durationExamples is the hint of every duration error.
const durationExamples = "examples: 500ms, 1s, 2m, 1h30m"

// duration reads a Go duration string ("1s", "500ms", "1h30m"). Negative
// durations are rejected, and zero too unless allowZero.
func (d *decoder) duration(n *yaml.Node, path string, allowZero bool) (time.Duration, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		d.atf(n, path, "expected a duration (%s), got %s", durationExamples, describe(n))
		return 0, false
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		d.atf(n, path, "%s has no unit (%s)", short(n.Value), durationExamples)
		return 0, false
	case "!!str":
	default:
		d.atf(n, path, "expected a duration (%s), got %s", durationExamples, describe(n))
		return 0, false
	}
	v, err := time.ParseDuration(n.Value)
	switch {
	case err != nil:
		d.atf(n, path, "%s is not a duration (%s)", q(n.Value), durationExamples)
		return 0, false
	case v < 0:
		d.atf(n, path, "%s is negative", short(n.Value))
		return 0, false
	case v == 0 && !allowZero:
		d.atf(n, path, "%s: must be more than zero", short(n.Value))
		return 0, false
	}
	return v, true
}

// size reads a byte count: a whole number of bytes, or a string with a binary
// unit (see ParseSize).
func (d *decoder) size(n *yaml.Node, path string) (int64, bool) {
	n = resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		var v int64
		if err := n.Decode(&v); err != nil || v < 0 {
			d.atf(n, path, "%s is not a size in bytes (%s)", short(n.Value), sizeExamples)
			return 0, false
		}
		return v, true
	}
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.atf(n, path, "expected a size (%s), got %s", sizeExamples, describe(n))
		return 0, false
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		d.at(n, path, err)
		return 0, false
	}
	return v, true
}

// sizeExamples is the hint of every size error.
const sizeExamples = "examples: 65536, 64KiB, 256MiB, 1GiB"

// binaryUnits are the units ParseSize accepts.
var binaryUnits = []struct {
	name  string
	bytes int64
}{{"B", 1}, {"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}}

// ParseSize parses a byte count as written in a job spec: digits, then
// optionally one space, then optionally a binary unit: B, KiB, MiB, GiB or TiB
// (powers of 1024), e.g. "65536", "64KiB", "256 MiB". Decimal units (KB, MB,
// GB, TB) are rejected with an error that says so, because half the tools in use
// read "64MB" as 64×1000² bytes and the other half as 64×1024².
func ParseSize(s string) (int64, error) {
	digits := 0
	for digits < len(s) && s[digits] >= '0' && s[digits] <= '9' {
		digits++
	}
	unit := strings.TrimPrefix(s[digits:], " ")
	if digits == 0 {
		return 0, fmt.Errorf("%s is not a size (%s)", q(s), sizeExamples)
	}
	n, err := strconv.ParseInt(s[:digits], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is too large a size", q(s))
	}
	if unit == "" {
		return n, nil
	}
	for _, u := range binaryUnits {
		if unit == u.name {
			if n > math.MaxInt64/u.bytes {
				return 0, fmt.Errorf("%s is too large a size", q(s))
			}
			return n * u.bytes, nil
		}
	}
	switch strings.ToUpper(unit) {
	case "KB", "MB", "GB", "TB":
		return 0, fmt.Errorf("%s uses a decimal unit; sizes take binary units (B, KiB, MiB, GiB, TiB: powers of 1024), e.g. %s%ciB",
			q(s), short(s[:digits]), upper(unit[0]))
	}
	return 0, fmt.Errorf("%s has an unknown unit %s (allowed: B, KiB, MiB, GiB, TiB; %s)", q(s), q(unit), sizeExamples)
}

// upper upper-cases an ASCII letter (for the hint "64mb" -> "64MiB").
func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// toJSON converts a YAML value to JSON: mappings with string keys become
// objects (in the order written), lists arrays, and scalars JSON null, booleans,
// numbers and strings. Timestamps stay strings as written; !!binary becomes its
// base64 text (what encoding/json expects for []byte). Non-string keys, merge
// keys, custom tags, NaN and infinities are errors; the first one in the value
// is reported. It returns false if it recorded an error.
func (d *decoder) toJSON(n *yaml.Node, path string) (json.RawMessage, bool) {
	w := jsonWriter{d: d, active: map[*yaml.Node]bool{}, limit: min(maxJSONBytes, d.jsonBudget)}
	w.value(n, path, 0)
	if !w.failed && w.buf.Len() > w.limit {
		w.tooLarge(n, path) // the last scalar went past the limit
	}
	if w.failed {
		return nil, false
	}
	d.jsonBudget -= w.buf.Len()
	return json.RawMessage(w.buf.Bytes()), true
}

// jsonWriter is the state of one toJSON call.
type jsonWriter struct {
	d      *decoder
	buf    bytes.Buffer
	active map[*yaml.Node]bool // lists and maps being written: an alias back to one is a cycle
	limit  int                 // bytes the output may reach
	failed bool
	full   bool // the output reached limit; stop at once
}

func (w *jsonWriter) fail(n *yaml.Node, path, format string, args ...any) {
	w.failed = true
	w.d.atf(n, path, format, args...)
}

// tooLarge reports that the output went past its limit.
func (w *jsonWriter) tooLarge(n *yaml.Node, path string) {
	w.full = true
	if w.limit == maxJSONBytes {
		w.fail(n, path, "the value expands to more than %d bytes of JSON", maxJSONBytes)
		return
	}
	if w.d.overBudget {
		w.failed = true // said once is enough
		return
	}
	w.d.overBudget = true
	w.fail(n, path, "the options and config values of this spec expand to more than %d bytes of JSON", maxTotalJSONBytes)
}

func (w *jsonWriter) value(n *yaml.Node, path string, depth int) {
	if w.full || w.failed {
		// NB: one error per value: an aliased value with many bad keys must
		// not give an error per key per use.
		return
	}
	if w.buf.Len() > w.limit {
		w.tooLarge(n, path)
		return
	}
	if depth > maxJSONDepth {
		w.fail(n, path, "nested more than %d levels deep", maxJSONDepth)
		w.full = true
		return
	}
	n = resolve(n)
	if n == nil {
		w.buf.WriteString("null")
		return
	}
	if w.active[n] {
		w.fail(n, path, "an alias refers to a value that contains it")
		w.full = true
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		if t := n.ShortTag(); t != "!!map" {
			w.fail(n, path, "unsupported YAML tag %s", short(t))
			return
		}
		w.active[n] = true
		defer delete(w.active, n)
		w.buf.WriteByte('{')
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
				if k.ShortTag() == "!!merge" {
					w.fail(k, path, "merge keys (<<) are not supported")
				} else {
					w.fail(k, path, "key %s is not a string (JSON object keys are strings: quote it)", describe(k))
				}
				return
			}
			if line, dup := seen[k.Value]; dup {
				w.fail(k, join(path, short(k.Value)), "duplicate key (first at line %d)", line)
				return
			}
			seen[k.Value] = k.Line
			if len(seen) > 1 {
				w.buf.WriteByte(',')
			}
			w.str(k.Value)
			w.buf.WriteByte(':')
			w.value(n.Content[i+1], join(path, short(k.Value)), depth+1)
			if w.failed || w.full {
				return
			}
		}
		w.buf.WriteByte('}')
	case yaml.SequenceNode:
		if t := n.ShortTag(); t != "!!seq" {
			w.fail(n, path, "unsupported YAML tag %s", short(t))
			return
		}
		w.active[n] = true
		defer delete(w.active, n)
		w.buf.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			w.value(item, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if w.failed || w.full {
				return
			}
		}
		w.buf.WriteByte(']')
	case yaml.ScalarNode:
		w.scalar(n, path)
	default:
		w.fail(n, path, "unexpected YAML node")
	}
}

func (w *jsonWriter) scalar(n *yaml.Node, path string) {
	switch t := n.ShortTag(); t {
	case "!!null":
		w.buf.WriteString("null")
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			w.fail(n, path, "%s is not a boolean", q(n.Value))
			return
		}
		w.buf.WriteString(strconv.FormatBool(b))
	case "!!int", "!!float":
		if jsonNumber.MatchString(n.Value) && (t == "!!float" || !strings.ContainsAny(n.Value, ".eE")) {
			// Already a JSON number: keep it as written, so that integers of
			// any size and decimals keep every digit.
			w.buf.WriteString(n.Value)
			return
		}
		var v any
		if err := n.Decode(&v); err != nil {
			w.fail(n, path, "%s is not a number", q(n.Value))
			return
		}
		if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			w.fail(n, path, "%s has no JSON form (JSON has no NaN or infinity)", short(n.Value))
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			w.fail(n, path, "%s is not a JSON number", q(n.Value))
			return
		}
		w.buf.Write(b)
	case "!!str", "!!timestamp":
		w.str(n.Value)
	case "!!binary":
		var s string
		if err := n.Decode(&s); err != nil {
			w.fail(n, path, "invalid !!binary value: not base64")
			return
		}
		w.str(base64.StdEncoding.EncodeToString([]byte(s)))
	default:
		w.fail(n, path, "unsupported YAML tag %s (allowed: strings, numbers, booleans, null, lists, mappings)", short(t))
	}
}

// jsonNumber is the grammar of a JSON number (RFC 8259 §6).
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

// str writes s as a JSON string, without escaping <, > and & (the result is
// read by plugins, not embedded in HTML).
func (w *jsonWriter) str(s string) {
	enc := json.NewEncoder(&w.buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)               // a string always encodes
	w.buf.Truncate(w.buf.Len() - 1) // Encode adds a newline
}

// maxQuotedBytes bounds how much of a string from the spec one error message
// repeats (aliases can make one long string appear in many errors).
const maxQuotedBytes = 64

// short returns s, cut to maxQuotedBytes with "..." appended if longer.
func short(s string) string {
	if len(s) > maxQuotedBytes {
		return s[:maxQuotedBytes] + "..."
	}
	return s
}

// q quotes s for an error message, cut like short.
func q(s string) string {
	if len(s) > maxQuotedBytes {
		return strconv.Quote(s[:maxQuotedBytes]) + "..."
	}
	return strconv.Quote(s)
}

// join appends a field name to a path.
func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
