package com.github.weirstream.nexmark.generator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * GeneratorTest checks the Java generator against the test vectors of
 * docs/nexmark.md §7 (plugins/nexmark/testdata/vectors.txt, which the Go
 * generator passes): the first records byte for byte, and the SHA-256 of
 * records 0..99999.
 */
class GeneratorTest {
    /** VECTORS is the vectors file, relative to the Maven project (examples/nexmark/flink). */
    private static final Path VECTORS = Paths.get("../../../plugins/nexmark/testdata/vectors.txt");

    @Test
    void firstRecordsMatchVectors() throws IOException {
        Generator g = new Generator(new GeneratorConfig());
        int checked = 0;
        for (String line : Files.readAllLines(VECTORS, StandardCharsets.UTF_8)) {
            if (line.startsWith("#") || line.startsWith("sha256") || line.isBlank()) {
                continue;
            }
            String[] f = line.split(" ");
            assertEquals(3, f.length, "vector line: " + line);
            long n = Long.parseLong(f[0]);
            assertEquals(Long.parseLong(f[1]), g.timestamp(n), "timestamp of event " + n);
            assertEquals(f[2], HexFormat.of().formatHex(EventCodec.encode(g.event(n))), "encoding of event " + n);
            checked++;
        }
        assertEquals(60, checked, "records in " + VECTORS);
    }

    @Test
    void hashOfHundredThousandRecordsMatchesVectors() throws IOException, NoSuchAlgorithmException {
        String want = null;
        for (String line : Files.readAllLines(VECTORS, StandardCharsets.UTF_8)) {
            if (line.startsWith("sha256 0..99999 ")) {
                want = line.substring("sha256 0..99999 ".length()).trim();
            }
        }
        assertTrue(want != null, VECTORS + " has no sha256 line");
        Generator g = new Generator(new GeneratorConfig());
        MessageDigest h = MessageDigest.getInstance("SHA-256");
        ByteBuffer head = ByteBuffer.allocate(20);
        for (long n = 0; n < 100_000; n++) {
            byte[] v = EventCodec.encode(g.event(n));
            head.clear();
            head.order(ByteOrder.BIG_ENDIAN).putLong(n);
            head.order(ByteOrder.LITTLE_ENDIAN).putLong(g.timestamp(n)).putInt(v.length);
            h.update(head.array());
            h.update(v);
        }
        assertEquals(want, HexFormat.of().formatHex(h.digest()));
    }

    @Test
    void splitMixMatchesReferenceSplitmix64() {
        // splitmix64.c with state 1234567: the first draws of its next().
        SplitMix r = new SplitMix(1234567);
        assertEquals(Long.parseUnsignedLong("6457827717110365317"), r.next());
        assertEquals(Long.parseUnsignedLong("3203168211198807973"), r.next());
        assertEquals(Long.parseUnsignedLong("9817491932198370423"), r.next());
    }

    @Test
    void boundedDrawsStayInRange() {
        SplitMix r = new SplitMix(42);
        for (long b : new long[] {1, 2, 26, 10_000, 1L << 31, 1L << 32}) {
            for (int i = 0; i < 1000; i++) {
                long v = r.u(b);
                assertTrue(v >= 0 && v < b, "U(" + b + ") = " + v);
            }
        }
    }

    static Stream<Arguments> badConfigs() {
        return Stream.of(
                bad("negative events", c -> c.events = -1, "option events"),
                bad("no splits", c -> c.splits = 0, "option splits"),
                bad("zero rate", c -> c.eventsPerSecond = 0, "option eventsPerSecond"),
                bad("no people", c -> c.personProportion = 0, "option personProportion"),
                bad("no auctions", c -> c.auctionProportion = 0, "option auctionProportion"),
                bad("negative bids", c -> c.bidProportion = -1, "option bidProportion"),
                bad("too many bids", c -> c.bidProportion = 2_000_000, "option bidProportion"),
                bad("hot ratio above 2^32", c -> c.hotBiddersRatio = (1L << 32) + 1, "option hotBiddersRatio"),
                bad("no active people", c -> c.numActivePeople = 0, "option numActivePeople"),
                bad("huge extra", c -> c.avgBidByteSize = 10_001, "option avgBidByteSize"),
                bad("auctions too long", c -> {
                    c.numInFlightAuctions = 1_000_000_000;
                    c.eventsPerSecond = 1;
                }, "option numInFlightAuctions"),
                bad("last timestamp overflows", c -> {
                    c.firstEventTime = Long.MAX_VALUE - 10;
                    c.events = 1_000_000;
                }, "option events"));
    }

    private static Arguments bad(String name, Consumer<GeneratorConfig> change, String want) {
        return Arguments.of(name, change, want);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badConfigs")
    void invalidConfigsNameTheirOption(String name, Consumer<GeneratorConfig> change, String want) {
        GeneratorConfig c = new GeneratorConfig();
        change.accept(c);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, c::validate);
        assertTrue(e.getMessage().contains(want), name + ": \"" + e.getMessage() + "\" does not name " + want);
    }

    @Test
    void defaultConfigIsValid() {
        new GeneratorConfig().validate();
        List.of(1L, 100L, 1_000_000_000L).forEach(eps -> {
            GeneratorConfig c = new GeneratorConfig();
            c.eventsPerSecond = eps;
            c.events = 10_000_000;
            c.validate();
        });
    }
}
