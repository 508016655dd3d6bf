// Package split is the first operator of the word-count example: it splits each
// line into lower-case words and emits one record per word, keyed by the word.
package split

import (
	weir "github.com/weirstream/weir/sdk/go"
)

// Operator splits lines into words. Words are runs of ASCII letters, digits and
// apostrophes; everything else separates them. Each word is emitted with the
// word as its key and an empty value.
var Operator = weir.Operator{Process: process}

// maxWordBytes bounds a word; longer runs are cut (a line of one huge token
// should not become a huge key).
const maxWordBytes = 256

func process(ctx *weir.Context, r weir.Record) error {
	var buf [maxWordBytes]byte
	n := 0
	flush := func() {
		if n > 0 {
			ctx.Emit(weir.Record{Key: buf[:n]})
			n = 0
		}
	}
	for _, c := range r.Value {
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '\'':
		default:
			flush()
			continue
		}
		if n < maxWordBytes {
			buf[n] = c
			n++
		}
	}
	flush()
	return nil
}
