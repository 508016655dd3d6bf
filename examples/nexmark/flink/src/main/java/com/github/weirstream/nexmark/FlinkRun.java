package com.github.weirstream.nexmark;

import com.github.weirstream.nexmark.model.Event;
import com.github.weirstream.nexmark.model.ResultLine;
import com.github.weirstream.nexmark.queries.Queries;
import com.github.weirstream.nexmark.sink.CountResults;
import com.github.weirstream.nexmark.sink.LineFileSink;
import com.github.weirstream.nexmark.source.NexmarkSource;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.state.rocksdb.RocksDBOptions;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;

/**
 * FlinkRun runs one query of {@link Options} on an embedded Flink MiniCluster
 * (one TaskManager with one slot per parallel subtask) and measures it. The job
 * is the Nexmark source, the query, and {@link CountResults}, into a
 * {@link LineFileSink} when an output file is asked for and a discarding sink
 * otherwise. Checkpoints go to files under the data directory (incremental for
 * RocksDB); the job has no restarts, so any failure fails the run.
 */
final class FlinkRun {
    private FlinkRun() {}

    /** Result is what a run measured. */
    static final class Result {
        long clusterStartNanos;
        /** elapsedNanos is the job's wall time, from its submission to the running cluster to its end. */
        long elapsedNanos;
        long cpuNanos;
        long results;
        long checkpoints;
        long peakRssBytes;
    }

    static Result run(Options o) throws Exception {
        Path dataDir = o.dataDir;
        boolean tempDir = dataDir == null;
        if (tempDir) {
            dataDir = Files.createTempDirectory("weir-nexmark-flink-");
        } else {
            Files.createDirectories(dataDir);
        }
        try {
            return run(o, dataDir);
        } finally {
            if (tempDir) {
                deleteTree(dataDir);
            }
        }
    }

    private static Result run(Options o, Path dataDir) throws Exception {
        Configuration conf = configuration(o, dataDir);
        Path parts = null;
        if (o.output != null) {
            parts = Files.createDirectories(dataDir.resolve("output"));
            try (Stream<Path> old = Files.list(parts)) {
                if (old.findAny().isPresent()) {
                    throw new IOException(parts + " holds the output of an earlier run; use an empty -data-dir");
                }
            }
        }
        JobGraph job = jobGraph(o, conf, parts);

        MiniClusterConfiguration mc = new MiniClusterConfiguration.Builder()
                .setConfiguration(conf)
                .setNumTaskManagers(1)
                .setNumSlotsPerTaskManager(o.parallelism)
                .build();
        Result r = new Result();
        JobExecutionResult done;
        long t0 = System.nanoTime();
        try (MiniCluster cluster = new MiniCluster(mc)) {
            cluster.start();
            long t1 = System.nanoTime();
            long cpu0 = processCpuNanos();
            done = cluster.executeJobBlocking(job);
            r.elapsedNanos = System.nanoTime() - t1;
            r.cpuNanos = processCpuNanos() - cpu0;
            r.clusterStartNanos = t1 - t0;
        }
        if (r.elapsedNanos <= 0) {
            throw new IllegalStateException("the job took no measurable time (" + r.elapsedNanos + " ns)");
        }
        Long results = done.getAccumulatorResult(CountResults.RESULTS);
        Long checkpoints = done.getAccumulatorResult(CountResults.CHECKPOINTS);
        r.results = results == null ? 0 : results;
        r.checkpoints = checkpoints == null ? 0 : checkpoints;
        if (parts != null) {
            long written = writeSorted(parts, o.output);
            if (written != r.results) {
                throw new IOException("the job counted " + r.results + " results but its sink wrote " + written + " lines");
            }
        }
        r.peakRssBytes = peakRssBytes();
        return r;
    }

    /** configuration is the Flink configuration of a run: state backend, checkpoints, parallelism, no restarts. */
    static Configuration configuration(Options o, Path dataDir) {
        Configuration conf = new Configuration();
        conf.set(CoreOptions.DEFAULT_PARALLELISM, o.parallelism);
        conf.set(TaskManagerOptions.NUM_TASK_SLOTS, o.parallelism);
        conf.set(CoreOptions.TMP_DIRS, dataDir.resolve("tmp").toString());
        conf.set(StateBackendOptions.STATE_BACKEND, o.backend == Options.Backend.ROCKSDB ? "rocksdb" : "hashmap");
        conf.set(RocksDBOptions.LOCAL_DIRECTORIES, dataDir.resolve("rocksdb").toString());
        conf.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, o.checkpointInterval);
        conf.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
        conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, dataDir.resolve("checkpoints").toUri().toString());
        conf.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, true);
        // NB: with this on (Flink's default), the tasks of a bounded job that
        // finished wait for one more periodic checkpoint before the job ends, so
        // a run would idle for up to one checkpoint interval at its end.
        conf.set(CheckpointingOptions.ENABLE_CHECKPOINTS_AFTER_TASKS_FINISH, false);
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        // By default chained operators pass records without copying them (a
        // common Flink tuning): no function here changes a record it has
        // emitted or received, or keeps one it did not deserialize itself.
        conf.set(PipelineOptions.OBJECT_REUSE, o.objectReuse);
        // Every record type is a POJO or a basic type: fail rather than fall back to Kryo.
        conf.set(PipelineOptions.GENERIC_TYPES, false);
        // The cluster's endpoints stay on the loopback interface, on free ports.
        conf.set(RestOptions.BIND_ADDRESS, "127.0.0.1");
        conf.set(RestOptions.ADDRESS, "127.0.0.1");
        conf.set(RestOptions.BIND_PORT, "0");
        return conf;
    }

    /** jobGraph builds the job: the source, the query, CountResults and the sink (lines into parts, or discarded). */
    static JobGraph jobGraph(Options o, Configuration conf, Path parts) {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(o.parallelism);
        DataStream<Event> events = env.fromSource(
                new NexmarkSource(o.generatorConfig()), WatermarkStrategy.forMonotonousTimestamps(), "nexmark", Types.POJO(Event.class));
        DataStream<? extends ResultLine> results = Queries.build(o.query, events);
        DataStream<String> lines = count(results, parts != null);
        if (parts != null) {
            lines.sinkTo(new LineFileSink(parts)).name("lines");
        } else {
            lines.sinkTo(new DiscardingSink<>()).name("discard");
        }
        return env.getStreamGraph().getJobGraph();
    }

    private static <T extends ResultLine> DataStream<String> count(DataStream<T> results, boolean format) {
        return results.process(new CountResults<T>(format), Types.STRING).name("results");
    }

    /** writeSorted writes the lines of every part file under parts, sorted, to out, and returns how many. */
    private static long writeSorted(Path parts, Path out) throws IOException {
        List<String> lines = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(parts, LineFileSink.PART_PREFIX + "*")) {
            for (Path f : files) {
                lines.addAll(Files.readAllLines(f, StandardCharsets.UTF_8));
            }
        }
        // Lines are ASCII: String order is byte order, as Go's sort.Strings.
        Collections.sort(lines);
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.write(out, lines, StandardCharsets.UTF_8);
        return lines.size();
    }

    private static long processCpuNanos() {
        java.lang.management.OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean) {
            return ((com.sun.management.OperatingSystemMXBean) os).getProcessCpuTime();
        }
        return 0;
    }

    /** peakRssBytes reads the process's peak resident set size, VmHWM, from /proc/self/status. */
    static long peakRssBytes() throws IOException {
        Path status = Paths.get("/proc/self/status");
        for (String line : Files.readAllLines(status, StandardCharsets.US_ASCII)) {
            if (line.startsWith("VmHWM:")) {
                String[] f = line.substring("VmHWM:".length()).trim().split("\\s+");
                if (f.length == 2 && f[1].equals("kB")) {
                    return Long.parseLong(f[0]) * 1024;
                }
                throw new IOException(status + ": unexpected line \"" + line + "\"");
            }
        }
        throw new IOException(status + " has no VmHWM line (peak RSS needs Linux)");
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) all.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}
