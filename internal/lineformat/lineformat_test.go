package lineformat

import (
	"testing"

	"github.com/weirstream/weir/abi"
)

func TestAppend(t *testing.T) {
	e := &abi.Entry{Kind: abi.KindRecord, Key: []byte("k\"1"), Value: []byte{0xff, 'v'}, Timestamp: 42}
	for _, tc := range []struct{ format, want string }{
		{Value, "\xffv\n"},
		{KeyValue, "k\"1\t\xffv\n"},
		{JSON, `{"key":"k\"1","value":"/3Y=","timestamp":42,"valueBase64":true}` + "\n"},
	} {
		got, err := Append(nil, tc.format, e)
		if err != nil || string(got) != tc.want {
			t.Errorf("Append(%s) = %q, %v; want %q", tc.format, got, err, tc.want)
		}
	}
	if _, err := Append(nil, Value, &abi.Entry{Value: []byte("a\nb")}); err == nil {
		t.Error("format value wrote a value with a newline")
	}
	if err := Check("csv"); err == nil {
		t.Error(`Check("csv") = nil`)
	}
}

func TestPartNames(t *testing.T) {
	n := PartName("part", 42, 3)
	if n != "part-0000000042-0003" {
		t.Fatalf("PartName = %q", n)
	}
	if ck, ok := ParsePartName("part", n); !ok || ck != 42 {
		t.Fatalf("ParsePartName(%q) = %d, %v", n, ck, ok)
	}
	for _, bad := range []string{"part-42-0003", "other-0000000042-0003", "part-0000000042-03", "part-0000000042", "part-000000004x-0003"} {
		if _, ok := ParsePartName("part", bad); ok {
			t.Errorf("ParsePartName(%q) accepted it", bad)
		}
	}
	if CheckPrefix("ok-1.a_b") != nil || CheckPrefix(".hidden") == nil || CheckPrefix("a/b") == nil {
		t.Error("CheckPrefix")
	}
}
