package extism

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/weirstream/weir/abi"
	"github.com/weirstream/weir/host"
	"github.com/weirstream/weir/runtime"
)

// TestHostFunctions runs probe commands, each in an entry of its own (keys
// k0, k1, ...), and checks the result of each host function call
// (docs/extism.md, "Host functions"; codes of abi/ABI.md §8) and its effect on
// the Env. "at N" makes a command name entry N, so several commands can work
// on the key of entry 0.
func TestHostFunctions(t *testing.T) {
	k0 := func(name, userKey string) stateKey { return stateKey{Key: "k0", Name: name, UserKey: userKey} }
	for _, tc := range []struct {
		name   string
		keyed  bool
		state  map[stateKey]string
		config string
		cmds   []string
		want   []string
		check  func(t *testing.T, env *fakeEnv)
	}{
		{name: "state round trip", keyed: true,
			cmds: []string{"put s u1 v1", "at 0 get s u1", "get s u1", "at 0 del s u1", "at 0 get s u1", "at 0 del s u1"},
			want: []string{"code:0", "v:v1", "code:1", "code:0", "code:1", "code:0"}},
		{name: "empty user key and empty value are offset 0", keyed: true,
			cmds: []string{"put s - -", "at 0 get s -", "put t - x", "at 2 get t -"},
			want: []string{"code:0", "v:", "code:0", "v:x"},
			check: func(t *testing.T, env *fakeEnv) {
				if v, ok := env.State[k0("s", "")]; !ok || len(v) != 0 {
					t.Errorf("state s of k0 = %q, %v; want an empty value", v, ok)
				}
			}},
		{name: "state is scoped to the entry's key", keyed: true,
			state: map[stateKey]string{{Key: "k1", Name: "s", UserKey: "u"}: "of k1"},
			cmds:  []string{"get s u", "get s u", "at 1 get s u"},
			want:  []string{"code:1", "v:of k1", "v:of k1"}},
		{name: "scan in key order, bounded by max_bytes", keyed: true,
			state: map[stateKey]string{k0("s", "c"): "333", k0("s", "a"): "1", k0("s", "b"): "22", k0("other", "x"): "y", {Key: "k1", Name: "s", UserKey: "a"}: "k1's"},
			cmds: []string{"scan s - 0", "at 0 scan s b 0", "at 0 scan s - 20", "at 0 scan s - 25", "at 0 scan s - 1", "at 0 scan s d 0",
				"at 0 scan s a\x00 0"},
			want: []string{"a=1,b=22,c=333 more:false", "b=22,c=333 more:false", "a=1 more:true", "a=1,b=22 more:true", "a=1 more:true", " more:false",
				"b=22,c=333 more:false"}},
		{name: "clear deletes one state of one key", keyed: true,
			state: map[stateKey]string{k0("s", "a"): "1", k0("s", "b"): "2", k0("other", "x"): "y", {Key: "k1", Name: "s", UserKey: "a"}: "k1's"},
			cmds:  []string{"clear s", "at 0 get s a", "at 0 get other x", "at 1 get s a"},
			want:  []string{"code:0", "code:1", "v:y", "v:k1's"}},
		{name: "timers", keyed: true,
			cmds: []string{"timer 1 500", "timer 2 600", "at 0 timer 1 700", "at 0 untimer 1 500", "timer 3 1", "timer 0 1"},
			want: []string{"code:0", "code:0", "code:0", "code:0", "code:5", "code:5"},
			check: func(t *testing.T, env *fakeEnv) {
				want := map[timerKey]bool{{Key: "k1", Kind: 2, Time: 600}: true, {Key: "k0", Kind: 1, Time: 700}: true}
				if len(env.Timers) != len(want) || !env.Timers[timerKey{Key: "k1", Kind: 2, Time: 600}] || !env.Timers[timerKey{Key: "k0", Kind: 1, Time: 700}] {
					t.Errorf("timers %v, want %v", env.Timers, want)
				}
			}},
		{name: "bad entry index", keyed: true,
			cmds: []string{"at 8 get s a", "at 8 put s a b", "at 9 del s a", "at 99 clear s", "at 8 scan s - 0", "at 8 timer 1 5", "at -1 get s a", "cursor 8"},
			want: []string{"code:4", "code:4", "code:4", "code:4", "code:4", "code:4", "code:4", "code:4"}},
		{name: "bad state name", keyed: true,
			cmds: []string{"get - a", "put " + strings.Repeat("n", 256) + " a b", "put " + strings.Repeat("n", 255) + " a b"},
			want: []string{"code:5", "code:5", "code:0"}},
		{name: "offset that is no memory block", keyed: true,
			cmds: []string{"badptr"},
			want: []string{"code:3"}},
		{name: "state and timers need a keyed input",
			cmds: []string{"get s a", "put s a b", "del s a", "clear s", "scan s - 0", "timer 1 5", "untimer 1 5", "emit 3 k v"},
			want: []string{"code:8", "code:8", "code:8", "code:8", "code:8", "code:8", "code:8", "code:0"}},
		{name: "emit to a side output",
			cmds: []string{"emit 3 k v", "emit 255 k2 -"},
			want: []string{"code:0", "code:0"},
			check: func(t *testing.T, env *fakeEnv) {
				if got := strings.Join(env.records(3), " ") + " | " + strings.Join(env.records(255), " "); got != "k=v@7#0 | k2=@7#0" {
					t.Errorf("side outputs %q", got)
				}
			}},
		{name: "config", config: `{"mode": "fast", "n": 3, "o": {"a": [1, 2]}, "s": ""}`,
			cmds: []string{"config mode", "config n", "config o", "config s", "config none"},
			want: []string{"v:fast", "v:3", `v:{"a":[1,2]}`, "absent", "absent"}},
		{name: "deterministic WASI clock and random, no files",
			cmds: []string{"time", "rand", "file /etc/hostname", "file /"},
			want: []string{"2022-01-01T00:00:00Z", "rand", "err:open /etc/hostname: Bad file number", "err:open /: Bad file number"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := newOperator(t, sharedPlugin(t, "probe"), runtime.OperatorInfo{Keyed: tc.keyed, Config: []byte(tc.config)})
			env := newFakeEnv()
			for k, v := range tc.state {
				env.State[k] = []byte(v)
			}
			if err := env.process(op, commands(tc.cmds...)); err != nil {
				t.Fatal(err)
			}
			got := env.records(0)
			for i := range got {
				got[i] = got[i][strings.IndexByte(got[i], '=')+1 : strings.LastIndexByte(got[i], '@')]
			}
			want := tc.want
			if tc.name == "deterministic WASI clock and random, no files" && len(got) > 1 {
				want = append([]string(nil), tc.want...)
				want[1] = randOfFreshInstance(t)
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("results\n got %q\nwant %q", got, want)
			}
			if tc.check != nil {
				tc.check(t, env)
			}
		})
	}
}

// randOfFreshInstance returns what "time; rand" gives as the random bytes on
// another fresh instance: the same, since random_get is seeded.
func randOfFreshInstance(t *testing.T) string {
	op := newOperator(t, sharedPlugin(t, "probe"), runtime.OperatorInfo{})
	env := newFakeEnv()
	if err := env.process(op, commands("time", "rand")); err != nil {
		t.Fatal(err)
	}
	r := env.results()
	if len(r) != 2 || len(r[1]) != 16 {
		t.Fatalf("results %q", r)
	}
	return r[1]
}

// TestLimits checks the key, value and emit limits on a plugin loaded with
// small ones (abi/ABI.md §9: LIMIT_EXCEEDED). The output of the call is
// held to them too.
func TestLimits(t *testing.T) {
	p := loadPlugin(t, "probe", host.Limits{MaxKeyBytes: 4, MaxValueBytes: 8, MaxEmitBytes: 300})
	op := newOperator(t, p, runtime.OperatorInfo{Keyed: true})
	env := newFakeEnv()
	if err := env.process(op, commands("put s abcd 12345678", "put s abcde v", "put s a 123456789", "get s abcde", "scan s abcde 0")); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(env.results(), " "), "code:0 code:6 code:6 code:6 code:6"; got != want {
		t.Fatalf("results %q, want %q", got, want)
	}
	for _, tc := range []struct {
		name string
		cmds []string
		want string // in the error
	}{
		{"emitted key over the limit", []string{"emit 1 abcde v"}, "the plugin returned 0 after the host rejected its emitted records"},
		{"emitted value over the limit", []string{"emit 1 k 123456789"}, "the plugin returned 0 after the host rejected its emitted records"},
		// NB: each emit is 66 bytes: 4 fit in 300, the fifth does not.
		{"emitted bytes over the limit", []string{"emit 1 k v", "emit 1 k v", "emit 1 k v", "emit 1 k v", "emit 1 k v"}, "would exceed the limit of 300 emitted bytes per call"},
		{"output value over the limit", []string{"nonsense"}, "the output of weir_process_batch: malformed batch: entry 0: value: 24 bytes is more than the limit of 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := newFakeEnv().process(op, commands(tc.cmds...))
			if oe := asOperatorError(t, err); oe.Code != abi.LimitExceeded || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v (code %v), want LIMIT_EXCEEDED and %q", err, oe.Code, tc.want)
			}
		})
	}
}

// TestLogging checks that stdout, stderr and weir_v1_log reach the
// operator's logger, tagged, within the output budget.
func TestLogging(t *testing.T) {
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	p := loadPlugin(t, "probe", host.Limits{MaxOutputBytes: 40})
	op := newOperator(t, p, runtime.OperatorInfo{Name: "logged", Subtask: 3, Logger: logger})
	env := newFakeEnv()
	if err := env.process(op, commands("print hello stdout", "log 4 careful now", "log -4 details", "print "+strings.Repeat("x", 30))); err != nil {
		t.Fatal(err)
	}
	got := logs.String()
	for _, want := range []string{
		`level=INFO msg="hello stdout" operator=logged subtask=3 module=probe stream=stdout`,
		`level=WARN msg="careful now" operator=logged subtask=3 module=probe stream=log`,
		`level=DEBUG msg=details`,
		`level=WARN msg="output truncated: the plugin wrote more than 40 bytes in one call"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("logs lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "xxxx") {
		t.Errorf("the line past the budget was logged:\n%s", got)
	}
	env = newFakeEnv()
	if err := env.process(op, commands("print again")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `msg=again`) {
		t.Errorf("the budget is per call, but the next call's output was dropped:\n%s", logs.String())
	}
}
