package runningsum

import (
	"strconv"
	"testing"
)

// TestParseInt64 checks parseInt64 against strconv.ParseInt, whose rules it
// follows for base 10.
func TestParseInt64(t *testing.T) {
	for _, s := range []string{
		"0", "5", "-2", "+7", "007", "-0", "9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "-9223372036854775809", "18446744073709551616", "99999999999999999999",
		"", "-", "+", "1_000", "1.5", " 1", "1 ", "0x10", "--1", "oops",
	} {
		want, err := strconv.ParseInt(s, 10, 64)
		got, ok := parseInt64([]byte(s))
		if ok != (err == nil) || (ok && got != want) {
			t.Errorf("parseInt64(%q) = %d, %v; strconv.ParseInt gives %d, %v", s, got, ok, want, err)
		}
	}
}
