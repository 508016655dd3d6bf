package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestOrdersExample runs examples/orders/run.sh (the order pipeline of
// docs/acks.md) as its header says, against the weir binary, modules and
// payment service built here, and checks what it prints: the request NACKed
// with exactly its failed order line, the repeated order's request ACKed
// and its items dropped by dedup, and after the DLQ fix every item charged
// and committed once.
func TestOrdersExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds weir and runs a weir server process")
	}
	bin := buildWeir(t)
	mods := t.TempDir()
	for name, pkg := range map[string]string{"split": "./examples/orders/split/wasm", "charge": "./examples/payments/charge/wasm"} {
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", filepath.Join(mods, name+".wasm"), pkg)
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, out)
		}
	}
	paysvc := filepath.Join(mods, "paysvc")
	cmd := exec.Command("go", "build", "-o", paysvc, "./examples/payments/service")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the payment service: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()

	cmd = exec.Command("bash", "../../examples/orders/run.sh")
	cmd.Env = append(os.Environ(), "WEIR="+bin, "MODULES="+mods, "PAYSVC="+paysvc, "PAY_PORT="+port, "WORK="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run.sh: %v\n%s", err, out)
	}
	t.Logf("run.sh:\n%s", out)
	s := string(out)
	if !regexp.MustCompile(`job orders-[0-9a-f]+:\s+nacked\n\s+record 1:\s+DLQ entry \d+, operator charge: .*\n\s+retry:`).MatchString(s) {
		t.Error("the request's status is not a NACK of exactly its order line 1 by operator charge")
	}
	if !regexp.MustCompile(`request:\s+batch-2 .*\njob orders-[0-9a-f]+:\s+acked\n`).MatchString(s) {
		t.Error("the second request (o-1 again, dropped by dedup) is not ACKed")
	}
	for _, item := range []string{"o-1/0", "o-1/1", "o-2/0", "o-2/1", "o-3/0"} {
		if n := strings.Count(s, item+" charged receipt-"); n != 1 {
			t.Errorf("item %s is committed %d times, want once", item, n)
		}
	}
	if !strings.Contains(s, "5 items committed, 5 charged") {
		t.Error("run.sh did not commit 5 charged items")
	}
}
