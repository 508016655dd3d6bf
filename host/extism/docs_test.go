package extism

import (
	"os"
	"strings"
	"testing"
)

// TestDocsExample checks that the complete plugin of docs/extism.md is the
// test plugin docupper, which TestStateless runs.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/extism.md")
	if err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile("testdata/plugins/docupper/main.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```go\n"+string(code)+"```\n") {
		t.Fatal("docs/extism.md does not show testdata/plugins/docupper/main.go as its complete plugin; update the one from the other")
	}
}
