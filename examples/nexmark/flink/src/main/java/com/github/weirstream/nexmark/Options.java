package com.github.weirstream.nexmark;

import com.github.weirstream.nexmark.generator.GeneratorConfig;
import com.github.weirstream.nexmark.queries.Queries;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Options are the command-line options of {@link NexmarkFlink}, in the style of
 * Weir's weir-nexmark: {@code -name value}, {@code --name value} or
 * {@code -name=value}. {@link #parse} rejects unknown options, bad values and
 * inconsistent combinations with a {@link UsageException} that says which.
 */
final class Options {
    /** MIN_CHECKPOINT_INTERVAL is the shortest checkpoint interval Flink accepts: 10 ms. */
    static final Duration MIN_CHECKPOINT_INTERVAL = Duration.ofMillis(10);
    /** MAX_PARALLELISM bounds -parallelism: Flink's default maximum parallelism (key groups). */
    static final int MAX_PARALLELISM = 128;

    /** Backend is a Flink state backend. */
    enum Backend {
        ROCKSDB("rocksdb"),
        HEAP("heap");

        /** flag is the backend's name on the command line and in the JSON result. */
        final String flag;

        Backend(String flag) {
            this.flag = flag;
        }
    }

    String query;
    long events = 10_000_000;
    int parallelism = 2;
    Duration checkpointInterval = Duration.ofSeconds(10);
    Backend backend = Backend.ROCKSDB;
    /** rate is the processing-time rate limit in events/s; 0: as fast as it goes. */
    long rate = 0;
    /** output is the file for the sorted canonical lines; null: count only (a benchmark run). */
    Path output;
    /** dataDir holds checkpoints, RocksDB files and temporary output; null: a temporary directory. */
    Path dataDir;
    long seed = 1;
    /** objectReuse sets pipeline.object-reuse: chained operators pass records without copying them. */
    boolean objectReuse = true;
    /** eventsPerSecond is the generator's event-time rate; null: the default, or -rate when set. */
    Long eventsPerSecond;

    static final String USAGE = String.join("\n",
            "usage: java -Xmx2g -jar weir-nexmark-flink.jar -query QUERY [options]",
            "  -query QUERY                one of " + String.join(", ", Queries.names()),
            "  -events N                   number of events to generate (default 10000000; at least 1)",
            "  -parallelism P              parallelism of the source (P splits), the operators and the sink (default 2)",
            "  -backend rocksdb|heap       state backend: EmbeddedRocksDBStateBackend or HashMapStateBackend (default rocksdb)",
            "  -checkpoint-interval D      time between checkpoints, e.g. 10s, 500ms, 1m (default 10s; at least 10ms)",
            "  -rate R                     emit at most R events/s in processing time (default 0: as fast as it goes);",
            "                              R is then also the generator's event-time rate",
            "  -output FILE                write the canonical result lines, sorted, to FILE (default: only count them)",
            "  -data-dir DIR               directory for checkpoints and RocksDB files (default: a temporary directory, removed)",
            "  -seed S                     generator seed, an unsigned 64-bit integer (default 1)",
            "  -events-per-second E        event-time rate of the generator (default 10000)",
            "  -object-reuse true|false    Flink's pipeline.object-reuse (default true)");

    /** UsageException is a command line that cannot run; its message says why. */
    static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    static Options parse(String[] args) throws UsageException {
        Options o = new Options();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("-") || a.equals("-") || a.equals("--")) {
                throw new UsageException("unexpected argument \"" + a + "\"");
            }
            String name = a.startsWith("--") ? a.substring(2) : a.substring(1);
            String value;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            } else if (name.equals("h") || name.equals("help")) {
                throw new UsageException("");
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                throw new UsageException("option -" + name + " needs a value");
            }
            o.set(name, value);
        }
        o.check();
        return o;
    }

    private void set(String name, String value) throws UsageException {
        switch (name) {
            case "query":
                query = value;
                break;
            case "events":
                events = parseLong(name, value);
                break;
            case "parallelism":
                parallelism = (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, parseLong(name, value)));
                break;
            case "backend":
                backend = parseBackend(value);
                break;
            case "checkpoint-interval":
                checkpointInterval = parseDuration(name, value);
                break;
            case "rate":
                rate = parseLong(name, value);
                break;
            case "output":
                output = value.isEmpty() ? null : Paths.get(value);
                break;
            case "data-dir":
                dataDir = value.isEmpty() ? null : Paths.get(value);
                break;
            case "seed":
                try {
                    seed = Long.parseUnsignedLong(value);
                } catch (NumberFormatException e) {
                    throw new UsageException("option -seed: \"" + value + "\" is not an unsigned 64-bit integer");
                }
                break;
            case "events-per-second":
                eventsPerSecond = parseLong(name, value);
                break;
            case "object-reuse":
                if (!value.equals("true") && !value.equals("false")) {
                    throw new UsageException("option -object-reuse: \"" + value + "\" is not true or false");
                }
                objectReuse = value.equals("true");
                break;
            default:
                throw new UsageException("unknown option -" + name);
        }
    }

    private void check() throws UsageException {
        if (query == null || query.isEmpty()) {
            throw new UsageException("-query is required (one of " + String.join(", ", Queries.names()) + ")");
        }
        if (!Queries.names().contains(query)) {
            throw new UsageException("unknown nexmark query \"" + query + "\" (known: " + String.join(", ", Queries.names()) + ")");
        }
        if (events < 1) {
            throw new UsageException("option -events: " + events + ": a run needs at least 1 event (it must end)");
        }
        if (parallelism < 1 || parallelism > MAX_PARALLELISM) {
            throw new UsageException("option -parallelism: " + parallelism + " is outside 1.." + MAX_PARALLELISM);
        }
        if (checkpointInterval.compareTo(MIN_CHECKPOINT_INTERVAL) < 0) {
            throw new UsageException("option -checkpoint-interval: " + checkpointInterval.toMillis() + "ms is shorter than Flink's minimum of "
                    + MIN_CHECKPOINT_INTERVAL.toMillis() + "ms");
        }
        if (rate < 0) {
            throw new UsageException("option -rate: " + rate + " is negative (0 means unlimited)");
        }
        if (rate > 0 && eventsPerSecond != null && eventsPerSecond != rate) {
            throw new UsageException("options -rate " + rate + " and -events-per-second " + eventsPerSecond
                    + " disagree: a rate-limited generator emits at its event-time rate; give one of them");
        }
        try {
            generatorConfig().validate();
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    /** generatorConfig returns the generator's configuration: the defaults with this run's options. */
    GeneratorConfig generatorConfig() {
        GeneratorConfig c = new GeneratorConfig();
        c.seed = seed;
        c.events = events;
        c.splits = parallelism;
        if (rate > 0) {
            c.rateLimited = true;
            c.eventsPerSecond = rate;
        } else if (eventsPerSecond != null) {
            c.eventsPerSecond = eventsPerSecond;
        }
        return c;
    }

    private static long parseLong(String name, String value) throws UsageException {
        try {
            return Long.parseLong(value.replace("_", ""));
        } catch (NumberFormatException e) {
            throw new UsageException("option -" + name + ": \"" + value + "\" is not an integer");
        }
    }

    private static Backend parseBackend(String value) throws UsageException {
        for (Backend b : Backend.values()) {
            if (b.flag.equals(value.toLowerCase(Locale.ROOT))) {
                return b;
            }
        }
        throw new UsageException("option -backend: \"" + value + "\" is not rocksdb or heap");
    }

    private static final Pattern DURATION_PART = Pattern.compile("(\\d+(?:\\.\\d*)?|\\.\\d+)(ns|us|µs|ms|s|m|h)");

    /** parseDuration reads a Go-style duration ("10s", "1m30s", "500ms", "1.5s"), as weir-nexmark takes. */
    static Duration parseDuration(String name, String value) throws UsageException {
        Matcher m = DURATION_PART.matcher(value);
        double nanos = 0;
        int at = 0;
        while (at < value.length() && m.find(at) && m.start() == at) {
            double v = Double.parseDouble(m.group(1));
            switch (m.group(2)) {
                case "ns":
                    nanos += v;
                    break;
                case "us":
                case "µs":
                    nanos += v * 1e3;
                    break;
                case "ms":
                    nanos += v * 1e6;
                    break;
                case "s":
                    nanos += v * 1e9;
                    break;
                case "m":
                    nanos += v * 60e9;
                    break;
                default:
                    nanos += v * 3600e9;
                    break;
            }
            at = m.end();
        }
        if (value.isEmpty() || at != value.length() || nanos > Long.MAX_VALUE) {
            throw new UsageException("option -" + name + ": \"" + value + "\" is not a duration like 10s, 500ms or 1m30s");
        }
        return Duration.ofNanos(Math.round(nanos));
    }
}
