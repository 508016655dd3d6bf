package com.github.weirstream.nexmark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** OptionsTest checks the command line of NexmarkFlink: its values, and that bad ones are named. */
class OptionsTest {
    @Test
    void parsesEveryOption() throws Exception {
        Options o = Options.parse(new String[] {
            "-query", "q5", "--events", "1_000", "-parallelism=3", "-backend", "heap", "-checkpoint-interval", "1m30s",
            "-output", "/tmp/x", "-seed", "18446744073709551615", "-events-per-second", "500"
        });
        assertEquals("q5", o.query);
        assertEquals(1000, o.events);
        assertEquals(3, o.parallelism);
        assertEquals(Options.Backend.HEAP, o.backend);
        assertEquals(Duration.ofSeconds(90), o.checkpointInterval);
        assertEquals(-1L, o.seed);
        assertEquals(500, o.generatorConfig().eventsPerSecond);
        assertEquals(3, o.generatorConfig().splits);
    }

    @Test
    void rateSetsTheEventTimeRate() throws Exception {
        Options o = Options.parse(new String[] {"-query", "q0", "-rate", "2000"});
        assertTrue(o.generatorConfig().rateLimited);
        assertEquals(2000, o.generatorConfig().eventsPerSecond);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "no query              | -events 10                          | -query is required",
        "unknown query         | -query q6                           | unknown nexmark query \"q6\"",
        "zero events           | -query q0 -events 0                 | option -events",
        "bad events            | -query q0 -events ten               | option -events",
        "zero parallelism      | -query q0 -parallelism 0            | option -parallelism",
        "bad backend           | -query q0 -backend memory           | option -backend",
        "bad object reuse      | -query q0 -object-reuse yes         | option -object-reuse",
        "short interval        | -query q0 -checkpoint-interval 1ms  | option -checkpoint-interval",
        "bad interval          | -query q0 -checkpoint-interval 10   | option -checkpoint-interval",
        "negative rate         | -query q0 -rate -1                  | option -rate",
        "rate disagrees        | -query q0 -rate 5 -events-per-second 6 | disagree",
        "generator rejects     | -query q0 -events-per-second 0      | option eventsPerSecond",
        "unknown option        | -query q0 -speed 3                  | unknown option -speed",
        "missing value         | -query                              | needs a value",
        "stray argument        | q0                                  | unexpected argument",
    })
    void badCommandLinesSayWhy(String name, String args, String want) {
        Options.UsageException e = assertThrows(Options.UsageException.class, () -> Options.parse(args.trim().split("\\s+")));
        assertTrue(e.getMessage().contains(want), name + ": \"" + e.getMessage() + "\" does not contain " + want);
    }

    @Test
    void usageErrorExitsWithTwoAndPrintsNoResult() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = NexmarkFlink.run(new String[] {"-query", "q99"}, new PrintStream(out), new PrintStream(err));
        assertEquals(2, code);
        assertEquals("", out.toString(StandardCharsets.UTF_8));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("unknown nexmark query"));
    }
}
