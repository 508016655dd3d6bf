package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Version is the Kafka version scripts/install-kafka.sh installs by default.
const Version = "4.1.1"

// EnvLibs names a directory of Kafka jars to use instead of the cached one.
const EnvLibs = "WEIR_KAFKA_LIBS"

// EnvRequire, when set to anything, turns the skip for missing jars into a
// failure: CI sets it so that a broken install cannot pass as skipped tests.
const EnvRequire = "WEIR_REQUIRE_KAFKA"

// readyTimeout bounds the wait for a started broker to answer. It is not an
// assertion about speed: it only turns a broker that never comes up into a
// failure instead of a hung test. A JVM broker starts in ~5-15 s here.
const readyTimeout = 3 * time.Minute

// LibsDir returns the directory of the Kafka jars: $WEIR_KAFKA_LIBS, or the
// one scripts/install-kafka.sh fills in $HOME/.cache/weir/kafka-<Version>/libs;
// "" if neither is complete.
func LibsDir() string {
	if p := os.Getenv(EnvLibs); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	dir := filepath.Join(home, ".cache", "weir", "kafka-"+Version, "libs")
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		return ""
	}
	return dir
}

// Java returns the java binary: $JAVA_HOME/bin/java, else java on PATH.
func Java() string {
	if h := os.Getenv("JAVA_HOME"); h != "" {
		if _, err := os.Stat(filepath.Join(h, "bin", "java")); err == nil {
			return filepath.Join(h, "bin", "java")
		}
	}
	if p, err := exec.LookPath("java"); err == nil {
		return p
	}
	return ""
}

// Require skips (or, under WEIR_REQUIRE_KAFKA, fails) the test when the jars
// or java are missing, and returns the jar directory and java binary.
func Require(t testing.TB) (libs, java string) {
	t.Helper()
	libs, java = LibsDir(), Java()
	if libs != "" && java != "" {
		return libs, java
	}
	msg := "Apache Kafka jars not installed: run scripts/install-kafka.sh (make test does), or set " + EnvLibs
	if java == "" {
		msg = "no java on PATH or in JAVA_HOME: the Kafka broker needs a JDK 17+ (scripts/install-kafka.sh installs one)"
	}
	if os.Getenv(EnvRequire) != "" {
		t.Fatalf("%s (%s is set, so this fails instead of skipping)", msg, EnvRequire)
	}
	t.Skip(msg)
	return "", ""
}

// Options change the broker's configuration.
type Options struct {
	// Props are extra server.properties entries (e.g.
	// "transaction.max.timeout.ms"), overriding the defaults of Start.
	Props map[string]string
}

// Broker is one broker process (combined broker and controller) and its log
// directory.
type Broker struct {
	t       testing.TB
	libs    string
	java    string
	dir     string // server.properties, log4j2.properties, server.log, data/
	Addr    string // host:port of the PLAINTEXT listener clients use
	ctlAddr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *os.File
}

// Start formats a new log directory and starts a broker on it, and stops the
// broker when the test ends. It skips the test (see Require) when Kafka is not
// installed.
func Start(t testing.TB, opts Options) *Broker {
	t.Helper()
	libs, java := Require(t)
	dir, err := os.MkdirTemp("", "weir-kafka-")
	if err != nil {
		t.Fatal(err)
	}
	b := &Broker{t: t, libs: libs, java: java, dir: dir, Addr: freeAddr(t), ctlAddr: freeAddr(t)}
	t.Cleanup(func() {
		b.Stop()
		os.RemoveAll(dir)
	})
	props := map[string]string{
		"process.roles":                            "broker,controller",
		"node.id":                                  "1",
		"controller.quorum.voters":                 "1@" + b.ctlAddr,
		"listeners":                                "PLAINTEXT://" + b.Addr + ",CONTROLLER://" + b.ctlAddr,
		"advertised.listeners":                     "PLAINTEXT://" + b.Addr,
		"controller.listener.names":                "CONTROLLER",
		"listener.security.protocol.map":           "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"inter.broker.listener.name":               "PLAINTEXT",
		"log.dirs":                                 filepath.Join(dir, "data"),
		"num.partitions":                           "1",
		"offsets.topic.replication.factor":         "1",
		"offsets.topic.num.partitions":             "4",
		"transaction.state.log.replication.factor": "1",
		"transaction.state.log.min.isr":            "1",
		"transaction.state.log.num.partitions":     "4",
		"group.initial.rebalance.delay.ms":         "0",
		// NB: the tests kill clients and the broker, never the machine, so
		// the page cache keeps what an fsync would force out; Kafka does not
		// fsync per write by default anyway.
		"auto.create.topics.enable": "false",
	}
	for k, v := range opts.Props {
		props[k] = v
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "%s=%s\n", k, props[k])
	}
	write(t, filepath.Join(dir, "server.properties"), sb.String())
	// WARN and above to server.log: enough to say why a broker failed,
	// without the megabytes of INFO lines a broker writes per minute.
	write(t, filepath.Join(dir, "log4j2.properties"), strings.Join([]string{
		"rootLogger.level=WARN",
		"rootLogger.appenderRef.f.ref=F",
		"appender.f.type=File",
		"appender.f.name=F",
		"appender.f.fileName=" + filepath.Join(dir, "server.log"),
		"appender.f.layout.type=PatternLayout",
		"appender.f.layout.pattern=[%d] %p %m (%c)%n",
	}, "\n")+"\n")
	// A cluster id is 16 random bytes in URL-safe base64. One that starts
	// with '-' (1 in 64) would be taken for an option by StorageTool's
	// argument parser, so draw again (Kafka's own generator does the same).
	var clusterID string
	for clusterID == "" || clusterID[0] == '-' {
		var id [16]byte
		rand.Read(id[:])
		clusterID = base64.RawURLEncoding.EncodeToString(id[:])
	}
	cmd := b.javaCmd("kafka.tools.StorageTool", "format", "-t", clusterID, "-c", filepath.Join(dir, "server.properties"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kafka: format the log directory: %v\n%s", err, out)
	}
	b.Restart()
	return b
}

func write(t testing.TB, path, content string) {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// javaCmd is java running main class with the Kafka jars on the class path.
// The heap is capped: the tests run on a 2-core machine beside other servers,
// and a test broker needs far less than the JVM's default quarter of memory.
func (b *Broker) javaCmd(main string, args ...string) *exec.Cmd {
	a := append([]string{
		"-Xms128m", "-Xmx768m", "-XX:+UseSerialGC",
		"-Dlog4j2.configurationFile=" + filepath.Join(b.dir, "log4j2.properties"),
		"-cp", filepath.Join(b.libs, "*"), main,
	}, args...)
	cmd := exec.Command(b.java, a...)
	cmd.Dir = b.dir
	return cmd
}

// Tool returns a command that runs main, a class of the Kafka jars (e.g.
// "org.apache.kafka.tools.ProducerPerformance", the class behind
// kafka-producer-perf-test.sh), with args, under the same capped JVM as the
// broker: benchmarks compare Weir with Kafka's own tools this way, since the
// Maven jars come without the shell scripts that wrap them.
func (b *Broker) Tool(main string, args ...string) *exec.Cmd {
	return b.javaCmd(main, args...)
}

// Restart starts the broker again on the same ports and log directory (after
// Stop; also used by Start) and waits until it serves metadata and can create
// a topic.
func (b *Broker) Restart() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		b.t.Fatal("kafka: Restart while running")
	}
	out, err := os.OpenFile(filepath.Join(b.dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.t.Fatal(err)
	}
	cmd := b.javaCmd("kafka.Kafka", filepath.Join(b.dir, "server.properties"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		b.t.Fatalf("kafka: start %s: %v", b.java, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	b.cmd, b.done, b.out = cmd, done, out

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		b.t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		bs, err := adm.ListBrokers(ctx)
		cancel()
		if err == nil && len(bs) == 1 {
			return
		}
		select {
		case <-done:
			b.t.Fatalf("kafka: the broker exited before it was ready; log:\n%s", b.LogTail())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("kafka: not ready at %s after %v (%v); log:\n%s", b.Addr, readyTimeout, err, b.LogTail())
		}
	}
}

// Stop kills the broker (SIGKILL: an outage, not a clean shutdown) and waits
// for it to exit. Its log directory stays for Restart.
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Kill()
	<-b.done
	b.out.Close()
	b.cmd, b.done, b.out = nil, nil, nil
}

// LogTail returns the last lines of the broker's log and output.
func (b *Broker) LogTail() string {
	var all []string
	for _, name := range []string{"server.log", "stdout.log"} {
		data, _ := os.ReadFile(filepath.Join(b.dir, name))
		lines := strings.Split(string(data), "\n")
		if len(lines) > 30 {
			lines = lines[len(lines)-30:]
		}
		all = append(all, "== "+name, strings.Join(lines, "\n"))
	}
	return strings.Join(all, "\n")
}

// Client returns a franz-go client of the broker, closed when the test ends.
func (b *Broker) Client(opts ...kgo.Opt) *kgo.Client {
	b.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addr)}, opts...)...)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(cl.Close)
	return cl
}

// CreateTopic creates topic with partitions partitions (replication 1).
func (b *Broker) CreateTopic(t testing.TB, topic string, partitions int) {
	t.Helper()
	adm := kadm.NewClient(b.Client())
	resp, err := adm.CreateTopic(context.Background(), int32(partitions), 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("kafka: create topic %s: %v", topic, err)
	}
}

// ReadCommitted reads every record of topic that a read_committed consumer
// sees, up to the topic's end: it first waits until no open transaction
// holds back the last stable offset, so an ONGOING transaction that never
// ends makes it fail at the deadline (that is what the zombie tests check)
// instead of returning a partial read silently.
func (b *Broker) ReadCommitted(t testing.TB, topic string) []*kgo.Record {
	t.Helper()
	recs, err := b.TryReadCommitted(topic, readyTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TryReadCommitted is ReadCommitted that returns an error, for tests that
// expect the read to be blocked.
func (b *Broker) TryReadCommitted(topic string, timeout time.Duration) ([]*kgo.Record, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// The end a read_committed reader can reach is the last stable offset,
	// which an open transaction holds back; the high watermark is where it
	// must get to once every transaction has ended. Both move: after a broker
	// restart the coordinator writes the markers of transactions it finds
	// prepared, so the high watermark read before them would end the read on
	// an aborted record, which read_committed skips and the reader never
	// reaches. The read waits for a moment at which the last stable offset
	// equals the high watermark read before and after it: every record below
	// it then belongs to an ended transaction or to none, and the last one is
	// a marker or a plain record, both of which the reader sees.
	endOffsets := func() (map[int32]int64, error) {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return nil, fmt.Errorf("kafka: end offsets of %s: %w", topic, err)
		}
		m := map[int32]int64{}
		ends.Each(func(o kadm.ListedOffset) { m[o.Partition] = o.Offset })
		return m, nil
	}
	var want map[int32]int64
	for {
		before, err := endOffsets()
		if err != nil {
			return nil, err
		}
		stable, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			return nil, fmt.Errorf("kafka: last stable offsets of %s: %w", topic, err)
		}
		after, err := endOffsets()
		if err != nil {
			return nil, err
		}
		behind := ""
		if !maps.Equal(before, after) {
			behind = "the high watermark moved"
		}
		stable.Each(func(o kadm.ListedOffset) {
			if o.Offset != after[o.Partition] {
				behind = fmt.Sprintf("partition %d: last stable offset %d, high watermark %d", o.Partition, o.Offset, after[o.Partition])
			}
		})
		if behind == "" {
			want = after
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("kafka: read_committed of %s cannot reach the end: %s (an ONGOING transaction blocks it)", topic, behind)
		case <-time.After(100 * time.Millisecond):
		}
	}
	recs, err := b.read(ctx, topic, want, kgo.ReadCommitted())
	if err != nil {
		return nil, err
	}
	var data []*kgo.Record
	for _, r := range recs {
		if !r.Attrs.IsControl() {
			data = append(data, r)
		}
	}
	return data, nil
}

// Committed returns the records of topic whose transactions committed, and
// the plain (non-transactional) ones, in partition and offset order: what
// read_committed readers see once every open transaction has ended, and see
// now up to the first open one. Unlike ReadCommitted it does not wait for open
// transactions: it reads with read_uncommitted to the high watermark and
// keeps a transactional record when the next marker of its producer is a
// commit, so that a test can look at committed output while other
// transactions are still open (a sink's pre-committed ones).
func (b *Broker) Committed(t testing.TB, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	adm := kadm.NewClient(b.Client())
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("kafka: end offsets of %s: %v", topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { want[o.Partition] = o.Offset })
	recs, err := b.read(ctx, topic, want, kgo.ReadUncommitted())
	if err != nil {
		t.Fatal(err)
	}
	type pp struct {
		partition int32
		producer  int64
	}
	open := map[pp][]*kgo.Record{}
	var out []*kgo.Record
	for _, r := range recs {
		k := pp{r.Partition, r.ProducerID}
		switch {
		case r.Attrs.IsControl():
			// The key of a control record is version (int16), type
			// (int16): 0 abort, 1 commit.
			if len(r.Key) >= 4 && r.Key[3] == 1 {
				out = append(out, open[k]...)
			}
			delete(open, k)
		case r.Attrs.IsTransactional():
			open[k] = append(open[k], r)
		default:
			out = append(out, r)
		}
	}
	return out
}

// read reads the partitions of topic up to the offsets in want, control
// records included: every transaction, committed or aborted, ends with a
// marker and a plain record is itself data, so a reader that keeps them sees
// its position reach the end even when the last records were aborted (which
// read_committed skips without a trace).
func (b *Broker) read(ctx context.Context, topic string, want map[int32]int64, iso kgo.IsolationLevel) ([]*kgo.Record, error) {
	offsets := map[string]map[int32]kgo.Offset{topic: {}}
	left := 0
	for p, w := range want {
		if w > 0 {
			offsets[topic][p] = kgo.NewOffset().AtStart()
			left++
		}
	}
	if left == 0 {
		return nil, nil
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumePartitions(offsets),
		kgo.FetchIsolationLevel(iso), kgo.KeepControlRecords())
	if err != nil {
		return nil, err
	}
	defer cons.Close()
	var recs []*kgo.Record
	for left > 0 {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("kafka: read %s: %w after %d records", topic, err, len(recs))
		}
		fs.EachError(func(_ string, _ int32, e error) { err = e })
		if err != nil {
			return nil, fmt.Errorf("kafka: read %s: %w", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= want[r.Partition] {
				return
			}
			recs = append(recs, r)
			if r.Offset+1 == want[r.Partition] {
				left--
			}
		})
	}
	slices.SortFunc(recs, func(a, b *kgo.Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return recs, nil
}
