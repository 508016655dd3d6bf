package kafka

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultBrokersEnv is the environment variable that holds the bootstrap
// brokers (comma-separated host:port) when a spec gives neither brokers nor
// brokersEnv.
const DefaultBrokersEnv = "WEIR_KAFKA_BROKERS"

// maxTopicBytes is Kafka's limit on a topic name.
const maxTopicBytes = 249

// ConnOptions are the connection options shared by the source and the sink.
type ConnOptions struct {
	// Brokers are the bootstrap brokers, host:port each.
	Brokers []string `json:"brokers"`
	// BrokersEnv names the environment variable that holds them,
	// comma-separated (default WEIR_KAFKA_BROKERS).
	BrokersEnv string `json:"brokersEnv"`
	// Topic is the topic read or written.
	Topic string `json:"topic"`
}

// resolve returns the seed brokers and checks the topic, reporting problems
// through bad with the option's name.
func (o ConnOptions) resolve(bad func(option, format string, args ...any)) []string {
	if err := checkTopic(o.Topic); err != nil {
		bad("topic", "%v", err)
	}
	brokers, option := o.Brokers, "brokers"
	switch {
	case len(o.Brokers) > 0 && o.BrokersEnv != "":
		bad("brokersEnv", "give brokers or brokersEnv, not both")
		return nil
	case len(o.Brokers) == 0:
		env := o.BrokersEnv
		if env == "" {
			env = DefaultBrokersEnv
		}
		option = "brokersEnv"
		v := os.Getenv(env)
		if v == "" {
			bad(option, "environment variable %s is not set or empty (it holds the brokers, host:port,...; or give option brokers)", env)
			return nil
		}
		brokers = strings.Split(v, ",")
	}
	for i, b := range brokers {
		b = strings.TrimSpace(b)
		brokers[i] = b
		if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
			bad(option, "broker %q is not host:port", b)
		}
	}
	return brokers
}

// checkTopic checks a topic name as Kafka does: 1..249 bytes of letters,
// digits, '.', '_' and '-', and not "." or "..".
func checkTopic(t string) error {
	if t == "" {
		return fmt.Errorf("required: the topic name")
	}
	if len(t) > maxTopicBytes {
		return fmt.Errorf("%q is longer than %d bytes", t, maxTopicBytes)
	}
	if t == "." || t == ".." {
		return fmt.Errorf("%q is not a valid topic name", t)
	}
	for _, c := range []byte(t) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%q has %q; Kafka topic names use letters, digits, '.', '_' and '-'", t, c)
		}
	}
	return nil
}

// parseDuration parses a positive duration option; "" gives def.
func parseDuration(bad func(option, format string, args ...any), option, s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		bad(option, "%q is not a duration (like 500ms, 2s or 15m)", s)
	case d <= 0:
		bad(option, "%q is not positive", s)
	default:
		return d
	}
	return def
}

// clientOpts are the franz-go options every client of the plugin uses.
func clientOpts(brokers []string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		// A broker that is down (restarting) is retried rather than failing
		// the job at once; a request that cannot get through in this long
		// fails, and the job restarts from its last checkpoint.
		kgo.RetryTimeout(time.Minute),
	}
}
