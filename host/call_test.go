package host

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/runtime"
)

// endpointEnv is a fakeEnv whose one endpoint "svc" answers "resp:REQUEST"
// with status 200 (after delay), "down" is unavailable, and any other name
// is unknown. It counts the calls that reached it.
func endpointEnv(delay time.Duration, calls *int) *fakeEnv {
	env := newFakeEnv()
	env.Answer = func(_ uint32, endpoint, request, key []byte) ([]byte, uint32) {
		*calls++
		switch string(endpoint) {
		case "svc":
			time.Sleep(delay)
			return abi.AppendCallResponse(nil, 200, append([]byte("resp:"), request...)), 0
		case "down":
			return nil, uint32(abi.Unavailable)
		}
		return nil, uint32(abi.NotFound)
	}
	return env
}

// TestCall checks the call host function (ABI.md §5.3) between a guest and
// the Env: the response with its status, the length when out is too small,
// and the Env's codes passed through as negative results.
func TestCall(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "probe", Limits{})
	tests := []struct {
		name, cmd, want string
	}{
		{"response", "call svc k1 hello 64", "n=14 status=200 body=resp:hello"},
		{"out too small", "call svc k1 hello 13", "n=14"},
		{"empty out", "call svc k1 hello 0", "n=14"},
		{"unknown endpoint", "call nope k1 hello 64", "n=-1"},
		{"unavailable", "call down k1 hello 64", "n=-10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := newOperator(t, m, runtime.OperatorInfo{Name: "caller", Keyed: true})
			var calls int
			env := endpointEnv(0, &calls)
			if err := env.process(context.Background(), op, commands(tt.cmd)); err != nil {
				t.Fatal(err)
			}
			if got := env.values(t); len(got) != 1 || got[0] != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if calls != 1 {
				t.Errorf("the Env got %d calls, want 1", calls)
			}
		})
	}
}

// TestCallHostile checks what a hostile or buggy guest gets from call: bad
// pointers, entries, names and sizes are refused by the host before the Env
// sees them (ABI.md §5.3), and every call is NOT_ALLOWED on an input that is
// not keyed.
func TestCallHostile(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "probe", Limits{})
	keyed := map[string]string{
		"endpoint_oob": "-3", "request_oob": "-3", "key_oob": "-3", "out_oob": "-3", "bad_entry": "-4",
		"empty_endpoint": "-5", "long_endpoint": "-5", "empty_key": "-5", "long_key": "-6",
	}
	notKeyed := map[string]string{}
	for k := range keyed {
		notKeyed[k] = "-8"
	}
	for _, tt := range []struct {
		name  string
		keyed bool
		want  map[string]string
	}{{"keyed", true, keyed}, {"not keyed", false, notKeyed}} {
		t.Run(tt.name, func(t *testing.T) {
			op := newOperator(t, m, runtime.OperatorInfo{Name: "hostile", Keyed: tt.keyed})
			var calls int
			env := endpointEnv(0, &calls)
			if err := env.process(context.Background(), op, commands("callbad")); err != nil {
				t.Fatal(err)
			}
			got := env.values(t)
			if len(got) != 1 {
				t.Fatalf("got %q, want one record of codes", got)
			}
			if c := codes(t, got[0]); fmt.Sprint(c) != fmt.Sprint(tt.want) {
				t.Errorf("got codes %v\nwant %v", c, tt.want)
			}
			if calls != 0 {
				t.Errorf("%d bad calls reached the Env", calls)
			}
		})
	}
}

// TestCallTimeExcluded checks that the time the host waits for an endpoint
// does not count towards the call time limit (ABI.md §9): the endpoint's
// time-out bounds it instead.
func TestCallTimeExcluded(t *testing.T) {
	e := newTestEngine(t, Config{})
	m := loadGuest(t, e, "probe", Limits{CallTimeout: 100 * time.Millisecond})
	op := newOperator(t, m, runtime.OperatorInfo{Name: "slow", Keyed: true})
	var calls int
	env := endpointEnv(80*time.Millisecond, &calls)
	if err := env.process(context.Background(), op, commands("call svc a x 64", "call svc b y 64", "call svc c z 64")); err != nil {
		t.Fatalf("three calls of 80ms each under a 100ms call limit: %v", err)
	}
	if got := env.values(t); len(got) != 3 {
		t.Errorf("got %q, want three responses", got)
	}
	// The limit still holds for the guest's own time.
	if err := env.process(context.Background(), op, commands("call svc a x 64", "loop")); err == nil {
		t.Error("a guest that loops after a call was not stopped")
	}
}
