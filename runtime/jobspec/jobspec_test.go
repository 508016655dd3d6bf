package jobspec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wordcount is the example of docs/jobspec.md.
const wordcount = `name: wordcount
parallelism: 2              # default for every node
maxParallelism: 128
checkpoint: {interval: 1s, timeout: 10m, retain: 3}
restart: {attempts: 3, delay: 1s}
sources:
  - name: lines
    kind: file
    parallelism: 1
    watermark: {outOfOrderness: 5s}
    options: {path: input.txt, format: lines}
operators:
  - name: split
    module: split.wasm
    from: lines
  - name: count
    module: count.wasm
    inputs:
      - {from: split, partition: keyBy}
    config: {minCount: 2}
    limits: {memory: 64MiB, callTimeout: 5s}
sinks:
  - name: out
    kind: file
    from: count
    options: {path: out/}
`

type goodSpec struct {
	name string
	spec string
	want string // summary of the built job
}

var goodSpecs = []goodSpec{
	{
		name: "wordcount",
		spec: wordcount,
		want: `job wordcount maxParallelism=128 checkpoint=1s/10m0s/3 restart=3/1s
source lines p=1 outOfOrderness=5s file{"path":"input.txt","format":"lines"} base=$DIR
operator split p=2 in=lines:0:rebalance module=$DIR/split.wasm memory=0 callTimeout=0s config=
operator count p=2 in=split:0:keyBy module=$DIR/count.wasm memory=67108864 callTimeout=5s config={"minCount":2}
sink out p=2 in=count:0:forward file{"path":"out/"} base=$DIR
`,
	},
	{
		name: "defaults",
		spec: `
name: minimal
sources: [{name: gen, kind: datagen}]
sinks: [{name: print, kind: console, from: gen}]
`,
		want: `job minimal maxParallelism=128 checkpoint=5s/10m0s/3 restart=3/1s
source gen p=1 outOfOrderness=0s datagen{} base=$DIR
sink print p=1 in=gen:0:forward console{} base=$DIR
`,
	},
	{
		name: "default partitioning follows parallelism",
		spec: `
name: j
parallelism: 4
maxParallelism: 16
sources: [{name: a, kind: datagen, parallelism: 2}, {name: b, kind: datagen}]
operators:
  - {name: op, module: /abs/op.wasm, from: [a, b]}
sinks: [{name: out, kind: console, parallelism: 1, from: op}]
`,
		want: `job j maxParallelism=16 checkpoint=5s/10m0s/3 restart=3/1s
source a p=2 outOfOrderness=0s datagen{} base=$DIR
source b p=4 outOfOrderness=0s datagen{} base=$DIR
operator op p=4 in=a:0:rebalance,b:0:forward module=/abs/op.wasm memory=0 callTimeout=0s config=
sink out p=1 in=op:0:rebalance console{} base=$DIR
`,
	},
	{
		name: "side output to a sink",
		spec: `
name: ports
sources: [{name: src, kind: file, options: {path: in}}]
operators:
  - name: route
    module: ops/route.wasm
    parallelism: 3
    inputs: [{from: src, partition: rebalance}]
  - name: agg
    module: ops/agg.wasm
    parallelism: 3
    inputs: [{from: route, port: 0, partition: keyBy}, {from: route, port: 2, partition: keyBy}]
sinks:
  - {name: main, kind: file, parallelism: 3, inputs: [{from: agg, partition: forward}]}
  - {name: late, kind: console, inputs: [{from: route, port: 1}]}
`,
		want: `job ports maxParallelism=128 checkpoint=5s/10m0s/3 restart=3/1s
source src p=1 outOfOrderness=0s file{"path":"in"} base=$DIR
operator route p=3 in=src:0:rebalance module=$DIR/ops/route.wasm memory=0 callTimeout=0s config=
operator agg p=3 in=route:0:keyBy,route:2:keyBy module=$DIR/ops/agg.wasm memory=0 callTimeout=0s config=
sink main p=3 in=agg:0:forward file{} base=$DIR
sink late p=1 in=route:1:rebalance console{} base=$DIR
`,
	},
	{
		name: "config and options become faithful JSON",
		spec: `
name: json
sources:
  - name: src
    kind: datagen
    options:
      rate: 1000
      hex: 0x1F
      huge: 123456789012345678901234567890
      ratio: 0.25
      exp: 1e3
      on: true
      off: false
      none: ~
      quoted: "007"
      html: "<a & b>"
      day: 2024-03-01
      blob: !!binary aGVsbG8=
      nested: {list: [1, two, [3]], empty: {}, emptyList: []}
operators:
  - {name: op, module: op.wasm, from: src, config: just a string}
  - {name: op2, module: op.wasm, from: op, config: [1, {a: null}]}
sinks: [{name: out, kind: console, from: op2}]
`,
		want: `job json maxParallelism=128 checkpoint=5s/10m0s/3 restart=3/1s
source src p=1 outOfOrderness=0s datagen{"rate":1000,"hex":31,"huge":123456789012345678901234567890,"ratio":0.25,"exp":1e3,"on":true,"off":false,"none":null,"quoted":"007","html":"<a & b>","day":"2024-03-01","blob":"aGVsbG8=","nested":{"list":[1,"two",[3]],"empty":{},"emptyList":[]}} base=$DIR
operator op p=1 in=src:0:forward module=$DIR/op.wasm memory=0 callTimeout=0s config="just a string"
operator op2 p=1 in=op:0:forward module=$DIR/op.wasm memory=0 callTimeout=0s config=[1,{"a":null}]
sink out p=1 in=op2:0:forward console{} base=$DIR
`,
	},
	{
		name: "anchors and aliases share values",
		spec: `
name: aliases
sources: [{name: src, kind: datagen, options: &common {region: eu, tags: [a, b]}}]
operators:
  - {name: a, module: a.wasm, from: src, limits: &lim {memory: 1 GiB, callTimeout: 250ms}, config: *common}
  - {name: b, module: b.wasm, from: a, limits: *lim}
sinks: [{name: out, kind: file, from: b, options: *common}]
`,
		want: `job aliases maxParallelism=128 checkpoint=5s/10m0s/3 restart=3/1s
source src p=1 outOfOrderness=0s datagen{"region":"eu","tags":["a","b"]} base=$DIR
operator a p=1 in=src:0:forward module=$DIR/a.wasm memory=1073741824 callTimeout=250ms config={"region":"eu","tags":["a","b"]}
operator b p=1 in=a:0:forward module=$DIR/b.wasm memory=1073741824 callTimeout=250ms config=
sink out p=1 in=b:0:forward file{"region":"eu","tags":["a","b"]} base=$DIR
`,
	},
	{
		name: "sizes in bytes, nulls as absent, zero out-of-orderness",
		spec: `
name: bytes_and-nulls
checkpoint: {interval: 250ms, timeout: 1h, retain: 10}
restart: {attempts: 1000000, delay: 0.5s}
sources: [{name: s, kind: file, options: null, watermark: {outOfOrderness: 0s}}]
operators: [{name: o, module: o.wasm, from: s, config: null, limits: {memory: 131072}}]
sinks: [{name: k, kind: console, from: o}]
`,
		want: `job bytes_and-nulls maxParallelism=128 checkpoint=250ms/1h0m0s/10 restart=1000000/500ms
source s p=1 outOfOrderness=0s file{} base=$DIR
operator o p=1 in=s:0:forward module=$DIR/o.wasm memory=131072 callTimeout=0s config=
sink k p=1 in=o:0:forward console{} base=$DIR
`,
	},
	{
		name: "extism operators",
		spec: `name: ext
sources: [{name: src, kind: file}]
operators:
  - {name: a, module: a.wasm, kind: extism, from: src}
  - {name: b, module: b.wasm, kind: extism, function: run, from: a, limits: {memory: 1MiB}}
  - {name: c, module: c.wasm, kind: weir, from: b}
sinks: [{name: out, kind: console, from: c}]
`,
		want: `job ext maxParallelism=128 checkpoint=5s/10m0s/3 restart=3/1s
source src p=1 outOfOrderness=0s file{} base=$DIR
operator a p=1 in=src:0:forward module=extism:$DIR/a.wasm() memory=0 callTimeout=0s config=
operator b p=1 in=a:0:forward module=extism:$DIR/b.wasm(run) memory=1048576 callTimeout=0s config=
operator c p=1 in=b:0:forward module=$DIR/c.wasm memory=0 callTimeout=0s config=
sink out p=1 in=c:0:forward console{} base=$DIR
`,
	},
	{
		name: "dedup operators",
		spec: `name: dd
sources: [{name: src, kind: file}]
operators:
  - {name: a, kind: dedup, from: src, dedup: {ttl: 10m}}
  - {name: b, kind: dedup, inputs: [{from: a, partition: keyBy}], dedup: {idFrom: "json:id", ttl: 1h, time: event}, onFailure: {policy: dlq}}
sinks: [{name: out, kind: console, from: b}]
`,
		want: `job dd maxParallelism=128 checkpoint=5s/10m0s/3 restart=3/1s
source src p=1 outOfOrderness=0s file{} base=$DIR
operator a p=1 in=src:0:keyBy dedup={IDFrom:key TTL:10m0s EventTime:false}
operator b p=1 in=a:0:keyBy dedup={IDFrom:json:id TTL:1h0m0s EventTime:true}
sink out p=1 in=b:0:forward console{} base=$DIR
`,
	},
	{
		name: "source dedup",
		spec: `name: sd
parallelism: 2
sources: [{name: src, kind: file, dedup: {ttl: 5m}}]
operators:
  - {name: op, module: op.wasm, from: src}
sinks: [{name: out, kind: console, from: src}, {name: out2, kind: console, from: op}]
`,
		want: `job sd maxParallelism=128 checkpoint=5s/10m0s/3 restart=3/1s
source src p=2 outOfOrderness=0s file{} base=$DIR
operator src-dedup p=2 in=src:0:keyBy dedup={IDFrom:key TTL:5m0s EventTime:false}
operator op p=2 in=src-dedup:0:forward module=$DIR/op.wasm memory=0 callTimeout=0s config=
sink out p=2 in=src-dedup:0:forward console{} base=$DIR
sink out2 p=2 in=op:0:forward console{} base=$DIR
`,
	},
	{
		name: "failure policies",
		spec: `name: fp
sources: [{name: src, kind: file}]
operators:
  - {name: a, module: a.wasm, from: src, onFailure: {policy: dlq, retries: 3, backoff: 50ms}}
  - {name: b, module: b.wasm, from: a, onFailure: {policy: stop}}
  - {name: c, module: c.wasm, from: b, onFailure: {retries: 1}}
sinks: [{name: out, kind: console, from: c}]
`,
		want: `job fp maxParallelism=128 checkpoint=5s/10m0s/3 restart=3/1s
source src p=1 outOfOrderness=0s file{} base=$DIR
operator a p=1 in=src:0:forward module=$DIR/a.wasm memory=0 callTimeout=0s config= onFailure=dlq/3/50ms
operator b p=1 in=a:0:forward module=$DIR/b.wasm memory=0 callTimeout=0s config=
operator c p=1 in=b:0:forward module=$DIR/c.wasm memory=0 callTimeout=0s config= onFailure=stop/1/0s
sink out p=1 in=c:0:forward console{} base=$DIR
`,
	},
}

// loadSpec writes spec to job.yaml in a fresh directory, makes that the working
// directory (so errors name "job.yaml"), and loads it.
func loadSpec(t *testing.T, spec string) (summaryText string, err error) {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("job.yaml", []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	job, err := Load("job.yaml", testRegistry())
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return summary(job, abs), nil
}

func TestLoadGood(t *testing.T) {
	for _, c := range goodSpecs {
		t.Run(c.name, func(t *testing.T) {
			got, err := loadSpec(t, c.spec)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got != c.want {
				t.Errorf("built job:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}

// TestParseThenBuild checks that Parse and Build used separately give the job
// Load gives, with the base directory passed to Build.
func TestParseThenBuild(t *testing.T) {
	s, err := Parse([]byte(wordcount), "wordcount.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "wordcount" {
		t.Errorf("Name() = %q", s.Name())
	}
	job, err := s.Build(testRegistry(), "/specs")
	if err != nil {
		t.Fatal(err)
	}
	got := summary(job, "/specs")
	if got != goodSpecs[0].want {
		t.Errorf("built job:\n%s\nwant:\n%s", got, goodSpecs[0].want)
	}
}

type badSpec struct {
	name string
	spec string
	want []string // substrings of the error, each on its own error line
}

// notWant lists, by case name, what a bad spec's error must not say: the
// follow-on noise of the real mistake.
var notWant = map[string][]string{
	"unknown node":            {"nothing reads from it"},
	"many errors in one pass": {"nothing reads from it"},
	"no sources":              {"nothing reads from it"},
	"no sinks":                {"nothing reads from it"},
}

// validTail is the sources and sinks of a small valid spec that bad cases extend.
const validTail = `
sources: [{name: src, kind: file}]
sinks: [{name: out, kind: console, from: src}]
`

var badSpecs = []badSpec{
	{"bad source dedup", "name: j\nsources: [{name: src, kind: file, dedup: {ttl: 1m, idFrom: x}}]\nsinks: [{name: out, kind: console, from: src}]\n",
		[]string{`job.yaml:2:60: sources[0].dedup.idFrom: "x" is not key, value or json:FIELD`}},
	{"source dedup name taken", "name: j\nsources: [{name: src, kind: file, dedup: {ttl: 1m}}]\noperators: [{name: src-dedup, module: op.wasm, from: src}]\nsinks: [{name: out, kind: console, from: src-dedup}]\n",
		[]string{`job.yaml:2:35: sources[0].dedup: the job has a node named "src-dedup" already`}},
	{"bad dedup operators", "name: j\nsources: [{name: src, kind: file}]\noperators:\n  - {name: a, kind: dedup, module: a.wasm, from: src, dedup: {idFrom: header, ttl: 0s, time: wall}}\n  - {name: b, kind: dedup, inputs: [{from: a, partition: rebalance}]}\n  - {name: c, module: c.wasm, from: b, dedup: {ttl: 1m}}\nsinks: [{name: out, kind: console, from: c}]\n",
		[]string{`job.yaml:4:28: operators[0].module: an operator of kind dedup is built in: it has no module`,
			`operators[0].dedup.idFrom: "header" is not key, value or json:FIELD`,
			`operators[0].dedup.ttl: `,
			`operators[0].dedup.time: unknown time "wall" (allowed: processing, event)`,
			`job.yaml:5:5: operators[1]: missing field "dedup"`,
			`operators[1].inputs[0].partition: a dedup operator keeps its ids per key: its inputs are keyBy (got rebalance)`,
			`operators[2].dedup: dedup configures an operator of kind dedup`}},
	{"bad failure policy", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: op.wasm, from: src, onFailure: {policy: skip, retries: 101, backoff: 1m, retry: 1}}]\nsinks: [{name: out, kind: console, from: op}]\n",
		[]string{`job.yaml:3:72: operators[0].onFailure.policy: unknown failure policy "skip" (allowed: stop, dlq)`,
			`operators[0].onFailure.retries: 101 is out of range`,
			`operators[0].onFailure.backoff: 1m0s is more than 30s`,
			`operators[0].onFailure.retry: unknown field "retry" (known: policy, retries, backoff)`}},
	{"unknown operator kind", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: op.wasm, kind: wasi, function: f, from: src}]\nsinks: [{name: out, kind: console, from: op}]\n",
		[]string{`job.yaml:3:47: operators[0].kind: unknown operator kind "wasi" (allowed: weir, extism, dedup)`}},
	{"function without kind extism", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: op.wasm, function: f, from: src}, {name: op2, module: op.wasm, kind: weir, function: f, from: op}]\nsinks: [{name: out, kind: console, from: op2}]\n",
		[]string{`job.yaml:3:51: operators[0].function: function names the export of an Extism plugin: it needs kind: extism`, `operators[1].function: function names the export of an Extism plugin: it needs kind: extism`}},
	{"empty function", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: op.wasm, kind: extism, function: '', from: src}]\nsinks: [{name: out, kind: console, from: op}]\n",
		[]string{`operators[0].function: the function name is empty`}},
	{"syntax error", "name: [wordcount\nsources: x\n", []string{"job.yaml:1: invalid YAML: did not find expected ',' or ']'"}},
	{"tab indentation", "name: j\nsources:\n\t- name: a\n", []string{"job.yaml:3: invalid YAML: found character that cannot start any token"}},
	{"empty file", "", []string{"job.yaml: the spec is empty"}},
	{"only comments", "# nothing here\n", []string{"job.yaml: the spec is empty"}},
	{"two documents", "name: a\n---\nname: b\n", []string{"job.yaml:2: invalid YAML: a job spec is one YAML document"}},
	{"top level is a list", "- name: j\n", []string{"job.yaml:1:1: expected a mapping with fields name, parallelism, maxParallelism, checkpoint, restart, endpoints, acks, sources, operators, sinks, got a list"}},
	{"unknown top-level field", "name: j\nparalelism: 2" + validTail,
		[]string{`job.yaml:2:1: paralelism: unknown field "paralelism" (known: name, parallelism, maxParallelism, checkpoint, restart, endpoints, acks, sources, operators, sinks)`}},
	{"unknown source field", "name: j\nsources: [{name: src, kind: file, opts: {}}]\nsinks: [{name: out, kind: console, from: src}]\n",
		[]string{`job.yaml:2:35: sources[0].opts: unknown field "opts" (known: name, kind, parallelism, watermark, options, dedup)`}},
	{"unknown input field", "name: j\nsources: [{name: src, kind: file}]\nsinks: [{name: out, kind: console, inputs: [{from: src, partitioning: keyBy}]}]\n",
		[]string{`job.yaml:3:57: sinks[0].inputs[0].partitioning: unknown field "partitioning" (known: from, port, partition)`}},
	{"duplicate field", "name: j\nname: k" + validTail, []string{`job.yaml:2:1: name: duplicate field (first at line 1)`}},
	{"missing name", validTail, []string{`job.yaml:2:1: missing field "name" (the job's name)`}},
	{"name of the wrong type", "name: [a]" + validTail, []string{`job.yaml:1:7: name: expected a string, got a list`}},
	{"bad name characters", "name: my job" + validTail, []string{`job.yaml:1:7: name: name "my job" has the character ' ' at byte 2 (allowed: letters, digits, '-', '_')`}},
	{"name with a slash", "name: j\nsources: [{name: ../etc, kind: file}]\nsinks: [{name: out, kind: console, from: ../etc}]\n",
		[]string{`job.yaml:2:18: sources[0].name: name "../etc" has the character '.' at byte 0`}},
	{"empty name", "name: ''" + validTail, []string{`job.yaml:1:7: name: a name must not be empty`}},
	{"long name", "name: " + strings.Repeat("n", 65) + validTail, []string{`is 65 bytes long (at most 64)`}},
	{"parallelism not a number", "name: j\nparallelism: two" + validTail, []string{`job.yaml:2:14: parallelism: expected a whole number, got "two"`}},
	{"parallelism a float", "name: j\nparallelism: 2.0" + validTail, []string{`job.yaml:2:14: parallelism: expected a whole number, got number 2.0`}},
	{"negative parallelism", "name: j\nparallelism: -1" + validTail, []string{`job.yaml:2:14: parallelism: -1 is out of range (allowed: 1..32768)`}},
	{"zero node parallelism", "name: j\nsources: [{name: src, kind: file, parallelism: 0}]\nsinks: [{name: out, kind: console, from: src}]\n",
		[]string{`job.yaml:2:48: sources[0].parallelism: 0 is out of range (allowed: 1..32768)`}},
	{"parallelism above maxParallelism", "name: j\nmaxParallelism: 4\nsources: [{name: src, kind: file, parallelism: 8}]\nsinks: [{name: out, kind: console, from: src, parallelism: 8}]\n",
		[]string{`job.yaml:3:48: sources[0].parallelism: 8 is more than maxParallelism (4)`, `job.yaml:4:60: sinks[0].parallelism: 8 is more than maxParallelism (4)`}},
	{"maxParallelism too large", "name: j\nmaxParallelism: 65536" + validTail, []string{`maxParallelism: 65536 is out of range (allowed: 1..32768)`}},
	{"huge number", "name: j\nparallelism: 99999999999999999999999" + validTail, []string{`parallelism: expected a whole number, got number 99999999999999999999999`}},
	{"sources is a mapping", "name: j\nsources: {name: src}\nsinks: []\n", []string{`job.yaml:2:10: sources: expected a list of sources, got a mapping`, `job.yaml:3:8: sinks: a job needs at least one sink`}},
	{"checkpoint is a number", "name: j\ncheckpoint: 5" + validTail, []string{`job.yaml:2:13: checkpoint: expected a mapping with fields interval, timeout, retain, got number 5`}},
	{"duration with a space", "name: j\ncheckpoint: {interval: 1 sec}" + validTail, []string{`job.yaml:2:24: checkpoint.interval: "1 sec" is not a duration (examples: 500ms, 1s, 2m, 1h30m)`}},
	{"duration without a unit", "name: j\ncheckpoint: {timeout: 30}" + validTail, []string{`job.yaml:2:23: checkpoint.timeout: 30 has no unit (examples: 500ms, 1s, 2m, 1h30m)`}},
	{"negative duration", "name: j\nrestart: {delay: -1s}" + validTail, []string{`job.yaml:2:18: restart.delay: -1s is negative`}},
	{"zero interval", "name: j\ncheckpoint: {interval: 0s}" + validTail, []string{`checkpoint.interval: 0s: must be more than zero`}},
	{"negative out-of-orderness", "name: j\nsources: [{name: src, kind: file, watermark: {outOfOrderness: -5s}}]\nsinks: [{name: out, kind: console, from: src}]\n",
		[]string{`job.yaml:2:63: sources[0].watermark.outOfOrderness: -5s is negative`}},
	{"retain zero", "name: j\ncheckpoint: {retain: 0}" + validTail, []string{`checkpoint.retain: 0 is out of range (allowed: 1..1000)`}},
	{"decimal size unit", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: op.wasm, from: src, limits: {memory: 64MB}}]\nsinks: [{name: out, kind: console, from: op}]\n",
		[]string{`job.yaml:3:69: operators[0].limits.memory: "64MB" uses a decimal unit; sizes take binary units (B, KiB, MiB, GiB, TiB: powers of 1024), e.g. 64MiB`}},
	{"unknown size unit", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: op.wasm, from: src, limits: {memory: 64M}}]\nsinks: [{name: out, kind: console, from: op}]\n",
		[]string{`operators[0].limits.memory: "64M" has an unknown unit "M" (allowed: B, KiB, MiB, GiB, TiB`}},
	{"memory not whole pages", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: op.wasm, from: src, limits: {memory: 100000}}]\nsinks: [{name: out, kind: console, from: op}]\n",
		[]string{`operators[0].limits.memory: 100000 bytes is not a whole number of 64KiB Wasm pages`}},
	{"memory too large", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: op.wasm, from: src, limits: {memory: 8GiB}}]\nsinks: [{name: out, kind: console, from: op}]\n",
		[]string{`operators[0].limits.memory: 8589934592 bytes is out of range (allowed: 64KiB..4GiB)`}},
	{"call timeout zero", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: op.wasm, from: src, limits: {callTimeout: 0s}}]\nsinks: [{name: out, kind: console, from: op}]\n",
		[]string{`operators[0].limits.callTimeout: 0s: must be more than zero`}},
	{"unknown source kind", "name: j\nsources: [{name: src, kind: fiel}]\nsinks: [{name: out, kind: console, from: src}]\n",
		[]string{`job.yaml:2:29: sources[0].kind: unknown source kind "fiel" (known: datagen, file)`}},
	{"unknown sink kind", "name: j\nsources: [{name: src, kind: file}]\nsinks: [{name: out, kind: stdout, from: src}]\n",
		[]string{`job.yaml:3:27: sinks[0].kind: unknown sink kind "stdout" (known: console, file)`}},
	{"missing kind and module", "name: j\nsources: [{name: src}]\noperators: [{name: op, from: src}]\nsinks: [{name: out, kind: console, from: op}]\n",
		[]string{`job.yaml:2:11: sources[0]: missing field "kind" (which source plugin, e.g. file)`,
			`job.yaml:3:13: operators[0]: missing field "module" (the path of the operator's .wasm file)`}},
	{"empty module path", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: '', from: src}]\nsinks: [{name: out, kind: console, from: op}]\n",
		[]string{`job.yaml:3:32: operators[0].module: the module path is empty`}},
	{"missing input", "name: j\nsources: [{name: src, kind: file}]\nsinks: [{name: out, kind: console}]\n",
		[]string{`job.yaml:3:9: sinks[0]: missing field "from" or "inputs" (where the sink's records come from)`}},
	{"empty inputs", "name: j\nsources: [{name: src, kind: file}]\nsinks: [{name: out, kind: console, inputs: []}]\n",
		[]string{`job.yaml:3:9: sinks[0]: a sink needs at least one input`}},
	{"from and inputs together", "name: j\nsources: [{name: src, kind: file}]\nsinks: [{name: out, kind: console, from: src, inputs: [{from: src}]}]\n",
		[]string{`job.yaml:3:47: sinks[0]: from and inputs are mutually exclusive: use from for inputs with the default partitioning, inputs to set partition or port`}},
	{"unknown node", wordcount[:strings.Index(wordcount, "from: split")] + "from: splt" + wordcount[strings.Index(wordcount, "from: split")+len("from: split"):],
		[]string{`job.yaml:19:16: operators[1].inputs[0].from: unknown node "splt" (known: lines, split)`}},
	{"input from a sink", "name: j\nsources: [{name: src, kind: file}]\nsinks: [{name: out, kind: console, from: src}, {name: out2, kind: console, from: out}]\n",
		[]string{`job.yaml:3:82: sinks[1].from: "out" is a sink (sinks[0]); sinks have no output to read`}},
	{"input from itself", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: op.wasm, inputs: [{from: src}, {from: op}]}]\nsinks: [{name: out, kind: console, from: op}]\n",
		[]string{`operators[0].inputs[1].from: "op" cannot read its own output`}},
	{"duplicate names", "name: j\nsources: [{name: x, kind: file}]\noperators: [{name: x, module: op.wasm, from: x}]\nsinks: [{name: out, kind: console, from: x}]\n",
		[]string{`job.yaml:3:20: operators[0].name: "x" is the name of sources[0] already (line 2); names must be unique among sources, operators and sinks`}},
	{"cycle", `name: j
sources: [{name: src, kind: file}]
operators:
  - {name: a, module: a.wasm, inputs: [{from: src}, {from: c}]}
  - {name: b, module: b.wasm, from: a}
  - {name: c, module: c.wasm, from: b}
sinks: [{name: out, kind: console, from: c}]
`, []string{`job.yaml:5:37: operators[1].from: records flow in a cycle: a -> b -> c -> a`}},
	{"forward between unequal parallelisms", "name: j\nsources: [{name: src, kind: file, parallelism: 2}]\nsinks: [{name: out, kind: console, inputs: [{from: src, partition: forward}]}]\n",
		[]string{`job.yaml:3:68: sinks[0].inputs[0].partition: forward needs equal parallelism on both sides ("src" has 2, "out" has 1); use rebalance or keyBy`}},
	{"keyBy mixed with forward", `name: j
sources: [{name: a, kind: file}, {name: b, kind: file}]
operators:
  - name: join
    module: join.wasm
    inputs: [{from: a, partition: keyBy}, {from: b}]
sinks: [{name: out, kind: console, from: join}]
`, []string{`job.yaml:4:5: operators[0]: some inputs are keyBy and some are not (a: keyBy, b: forward); a keyed operator needs every input keyBy`}},
	{"unknown partitioning", "name: j\nsources: [{name: src, kind: file}]\nsinks: [{name: out, kind: console, inputs: [{from: src, partition: keyby}]}]\n",
		[]string{`job.yaml:3:68: sinks[0].inputs[0].partition: unknown partitioning "keyby" (allowed: forward, keyBy, rebalance)`}},
	{"port out of range", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: op.wasm, from: src}]\nsinks: [{name: out, kind: console, inputs: [{from: op, port: 256}]}]\n",
		[]string{`job.yaml:4:62: sinks[0].inputs[0].port: 256 is out of range (allowed: 0..255)`}},
	{"port of a source", "name: j\nsources: [{name: src, kind: file}]\nsinks: [{name: out, kind: console, inputs: [{from: src, port: 1}]}]\n",
		[]string{`job.yaml:3:52: sinks[0].inputs[0]: port 1 of source "src": sources have port 0 only`}},
	{"same output read twice", "name: j\nsources: [{name: src, kind: file}]\nsinks: [{name: out, kind: console, from: [src, src]}]\n",
		[]string{`job.yaml:3:48: sinks[0].from[1]: port 0 of "src" is read by sinks[0].from[0] already; read each output once`}},
	{"no sources", "name: j\nsources: []\nsinks: [{name: out, kind: console, from: x}]\n",
		[]string{`job.yaml:2:10: sources: a job needs at least one source`, `sinks[0].from: unknown node "x" (known: none)`}},
	{"no sinks", "name: j\nsources: [{name: src, kind: file}]\n", []string{`job.yaml:1:1: sinks: a job needs at least one sink`}},
	{"dangling operator", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: op.wasm, from: src}]\nsinks: [{name: out, kind: console, from: src}]\n",
		[]string{`job.yaml:3:20: operators[0] (op): nothing reads from it: the output of every source and operator must lead to a sink`}},
	{"module load failure", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: wasm/bad.wasm, from: src}]\nsinks: [{name: out, kind: console, from: op}]\n",
		[]string{`job.yaml:3:32: operators[0] (op): module "wasm/bad.wasm": compile `, `/wasm/bad.wasm: invalid magic number`}},
	{"plugin option failure", "name: j\nsources: [{name: src, kind: file, options: {fail: no such file input.txt}}]\nsinks: [{name: out, kind: console, from: src, options: {fail: bad path}}]\n",
		[]string{`job.yaml:2:44: sources[0] (src): options: no such file input.txt`, `job.yaml:3:56: sinks[0] (out): options: bad path`}},
	{"options not a mapping", "name: j\nsources: [{name: src, kind: file, options: [a]}]\nsinks: [{name: out, kind: console, from: src}]\n",
		[]string{`job.yaml:2:44: sources[0].options: expected a mapping of plugin options, got a list`}},
	{"non-string option key", "name: j\nsources: [{name: src, kind: file, options: {1: a, true: b}}]\nsinks: [{name: out, kind: console, from: src}]\n",
		[]string{`job.yaml:2:45: sources[0].options: key number 1 is not a string (JSON object keys are strings: quote it)`}},
	{"boolean option key", "name: j\nsources: [{name: src, kind: file, options: {a: {true: b}}}]\nsinks: [{name: out, kind: console, from: src}]\n",
		[]string{`job.yaml:2:49: sources[0].options.a: key boolean true is not a string`}},
	{"duplicate option key", "name: j\nsources: [{name: src, kind: file, options: {a: 1, a: 2}}]\nsinks: [{name: out, kind: console, from: src}]\n",
		[]string{`job.yaml:2:51: sources[0].options.a: duplicate key (first at line 2)`}},
	{"NaN in config", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: op.wasm, from: src, config: {x: [1, .nan]}}]\nsinks: [{name: out, kind: console, from: op}]\n",
		[]string{`job.yaml:3:68: operators[0].config.x[1]: .nan has no JSON form (JSON has no NaN or infinity)`}},
	{"custom tag in config", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: op.wasm, from: src, config: {x: !secret abc}}]\nsinks: [{name: out, kind: console, from: op}]\n",
		[]string{`operators[0].config.x: unsupported YAML tag !secret`}},
	{"merge key in options", "name: j\nsources: [{name: src, kind: file, options: {<<: {a: 1}}}]\nsinks: [{name: out, kind: console, from: src}]\n",
		[]string{`sources[0].options: merge keys (<<) are not supported`}},
	{"alias cycle in config", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: op.wasm, from: src, config: &c {self: *c}}]\nsinks: [{name: out, kind: console, from: op}]\n",
		[]string{`operators[0].config.self: an alias refers to a value that contains it`}},
	{"config nested too deep", "name: j\nsources: [{name: src, kind: file}]\noperators: [{name: op, module: op.wasm, from: src, config: " +
		strings.Repeat("[", 150) + strings.Repeat("]", 150) + "}]\nsinks: [{name: out, kind: console, from: op}]\n",
		[]string{`nested more than 100 levels deep`}},
	{"config expands past the limit", billionLaughs(), []string{`operators[0].config`, `expands to more than 1048576 bytes of JSON`}},
	{"unknown anchor", "name: *nope" + validTail, []string{`job.yaml: invalid YAML: unknown anchor 'nope' referenced`}},
	{"many errors in one pass", `name: j
parallelism: 0
checkpoint: {interval: soon}
sources: [{name: src, kind: fiel, optons: {}}]
operators: [{name: op, module: op.wasm, from: scr}]
sinks: [{name: out, kind: console, from: op}]
`, []string{
		`job.yaml:2:14: parallelism: 0 is out of range`,
		`job.yaml:3:24: checkpoint.interval: "soon" is not a duration`,
		`job.yaml:4:29: sources[0].kind: unknown source kind "fiel" (known: datagen, file)`,
		`job.yaml:4:35: sources[0].optons: unknown field "optons"`,
		`job.yaml:5:47: operators[0].from: unknown node "scr" (known: src)`,
	}},
}

// billionLaughs is a spec whose config expands, through nested aliases, to far
// more JSON than it has bytes.
func billionLaughs() string {
	var spec strings.Builder
	spec.WriteString("name: j\nsources: [{name: src, kind: file}]\noperators:\n  - name: op\n    module: op.wasm\n    from: src\n    config:\n")
	spec.WriteString("      l0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 10; i++ {
		spec.WriteString("      l" + itoa(i) + ": &a" + itoa(i) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				spec.WriteString(", ")
			}
			spec.WriteString("*a" + itoa(i-1))
		}
		spec.WriteString("]\n")
	}
	spec.WriteString("sinks: [{name: out, kind: console, from: op}]\n")
	return spec.String()
}

func itoa(i int) string { return string(rune('0' + i)) }

func TestLoadBad(t *testing.T) {
	for _, c := range badSpecs {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadSpec(t, c.spec)
			if err == nil {
				t.Fatalf("Load succeeded; want errors %q", c.want)
			}
			lines := strings.Split(err.Error(), "\n")
			for _, want := range c.want {
				found := false
				for _, l := range lines {
					if strings.Contains(l, want) {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("error does not contain %q; it is:\n%v", want, err)
				}
			}
			for _, notWant := range notWant[c.name] {
				if strings.Contains(err.Error(), notWant) {
					t.Errorf("error contains %q; it is:\n%v", notWant, err)
				}
			}
			for _, l := range lines {
				if !strings.HasPrefix(l, "job.yaml") {
					t.Errorf("error line %q does not say where", l)
				}
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error %v is not an *Error", err)
			}
			if len(lines) > maxErrors+1 {
				t.Errorf("%d error lines, more than maxErrors+1", len(lines))
			}
		})
	}
}
