package jobspec

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fence matches the fenced blocks of a Markdown file: the info string and the
// text.
var fence = regexp.MustCompile("(?s)```(\\w*)\n(.*?)```")

// TestDocs keeps docs/jobspec.md true: its complete example builds, and its
// first error example gives exactly the errors shown under it.
func TestDocs(t *testing.T) {
	md, err := os.ReadFile("../../docs/jobspec.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := fence.FindAllStringSubmatch(string(md), -1)
	if len(blocks) < 3 || blocks[0][1] != "yaml" {
		t.Fatalf("docs/jobspec.md: want the complete example as its first block; found %d blocks", len(blocks))
	}
	if _, err := loadSpec(t, blocks[0][2]); err != nil {
		t.Errorf("the complete example does not load: %v", err)
	}

	i := strings.Index(string(md), "For example, this spec")
	if i < 0 {
		t.Fatal(`docs/jobspec.md has no "For example, this spec"`)
	}
	blocks = fence.FindAllStringSubmatch(string(md)[i:], 2)
	if len(blocks) != 2 || blocks[0][1] != "yaml" {
		t.Fatal("docs/jobspec.md: the error example is not a yaml block followed by its output")
	}
	_, err = loadSpec(t, blocks[0][2])
	if err == nil {
		t.Fatal("the error example loads")
	}
	if got, want := err.Error()+"\n", blocks[1][2]; got != want {
		t.Errorf("the error example gives\n%s\ndocs/jobspec.md says\n%s", got, want)
	}
}

// TestExampleSpecs checks that the job specs under examples/ parse.
func TestExampleSpecs(t *testing.T) {
	paths, err := filepath.Glob("../../examples/*/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Skip("no examples/*/job.yaml")
	}
	for _, p := range paths {
		t.Run(filepath.Base(filepath.Dir(p)), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Parse(data, p); err != nil {
				t.Error(err)
			}
		})
	}
}
