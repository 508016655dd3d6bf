package com.github.weirstream.nexmark;

import java.io.PrintStream;
import java.util.Locale;
import org.apache.flink.runtime.util.EnvironmentInformation;

/**
 * NexmarkFlink is the main of the Flink side of Weir's Nexmark benchmark: it
 * runs one query (docs/nexmark.md §8) on an embedded Flink MiniCluster and
 * prints one JSON line on standard output:
 *
 * <pre>
 * {"engine":"flink","query":"q5","events":10000000,"parallelism":2,"backend":"rocksdb",
 *  "checkpointIntervalMs":10000,"elapsedMs":...,"eventsPerSec":...,"cpuMs":...,"eventsPerCpuSec":...,
 *  "clusterStartMs":...,"results":...,"checkpoints":...,"peakRssBytes":...,
 *  "flinkVersion":"2.2.1","javaVersion":"17.0.15","maxHeapBytes":...}
 * </pre>
 *
 * elapsedMs is the job's wall time, from its submission to the started cluster
 * to its end; clusterStartMs is the MiniCluster's start, before that. With
 * -output it also writes the sorted canonical result lines to a file. A bad
 * command line exits with status 2, a failed run with status 1, each with a
 * message on standard error and nothing on standard output.
 */
public final class NexmarkFlink {
    private NexmarkFlink() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream stdout, PrintStream stderr) {
        Options o;
        try {
            o = Options.parse(args);
        } catch (Options.UsageException e) {
            if (!e.getMessage().isEmpty()) {
                stderr.println("nexmark-flink: " + e.getMessage());
            }
            stderr.println(Options.USAGE);
            return 2;
        }
        FlinkRun.Result r;
        try {
            r = FlinkRun.run(o);
        } catch (Throwable t) {
            stderr.println("nexmark-flink: " + o.query + " failed: " + causes(t));
            t.printStackTrace(stderr);
            return 1;
        }
        stdout.println(json(o, r));
        stdout.flush();
        return 0;
    }

    /** causes joins the messages of t and its causes, most general first. */
    static String causes(Throwable t) {
        StringBuilder b = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (b.length() > 0) {
                b.append(": ");
            }
            b.append(c.getMessage() != null ? c.getMessage() : c.getClass().getName());
        }
        return b.toString();
    }

    static String json(Options o, FlinkRun.Result r) {
        double seconds = r.elapsedNanos / 1e9;
        double cpuSeconds = r.cpuNanos / 1e9;
        return String.format(Locale.ROOT,
                "{\"engine\":\"flink\",\"query\":\"%s\",\"events\":%d,\"parallelism\":%d,\"backend\":\"%s\","
                        + "\"checkpointIntervalMs\":%d,\"elapsedMs\":%.3f,\"eventsPerSec\":%.1f,\"cpuMs\":%.3f,\"eventsPerCpuSec\":%.1f,"
                        + "\"clusterStartMs\":%.3f,\"results\":%d,\"checkpoints\":%d,\"peakRssBytes\":%d,"
                        + "\"flinkVersion\":\"%s\",\"javaVersion\":\"%s\",\"maxHeapBytes\":%d}",
                o.query, o.events, o.parallelism, o.backend.flag, o.checkpointInterval.toMillis(),
                r.elapsedNanos / 1e6, o.events / seconds, r.cpuNanos / 1e6, cpuSeconds > 0 ? o.events / cpuSeconds : 0.0,
                r.clusterStartNanos / 1e6, r.results, r.checkpoints, r.peakRssBytes,
                EnvironmentInformation.getVersion(), System.getProperty("java.version"), Runtime.getRuntime().maxMemory());
    }
}
