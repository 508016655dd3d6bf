package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestRolloutsExample runs examples/rollouts/run.sh (shadow, canary,
// promote of version 2 of its tally) as its header says, against the weir
// binary and modules built here, and checks what it prints: every record
// committed, some by version 2, and a canary that ran a share of the keys.
func TestRolloutsExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and runs a weir server process")
	}
	bin := buildWeir(t)
	mods := t.TempDir()
	for _, m := range []string{"tally", "tally2"} {
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", filepath.Join(mods, m+".wasm"), "./examples/rollouts/"+m+"/wasm")
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", m, err, out)
		}
	}
	cmd := exec.Command("bash", "../../examples/rollouts/run.sh")
	cmd.Env = append(os.Environ(), "WEIR="+bin, "MODULES="+mods, "WORK="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run.sh: %v\n%s", err, out)
	}
	t.Logf("run.sh:\n%s", out)
	total := regexp.MustCompile(`(\d+) records committed, (\d+) of them by version 2`).FindSubmatch(out)
	keys := regexp.MustCompile(`keys version 2 has run so far: (\d+) of 200`).FindSubmatch(out)
	if total == nil || keys == nil {
		t.Fatal("run.sh did not print its counts")
	}
	n, _ := strconv.Atoi(string(total[1]))
	v2, _ := strconv.Atoi(string(total[2]))
	k, _ := strconv.Atoi(string(keys[1]))
	if n != 100000 || v2 == 0 || v2 == n {
		t.Errorf("%d records committed, %d by version 2: want 100000, some by each version", n, v2)
	}
	// 13 of 128 key groups: about a tenth of the 200 keys, surely not all.
	if k == 0 || k > 60 {
		t.Errorf("the canary ran %d of 200 keys, want about a tenth", k)
	}
}
