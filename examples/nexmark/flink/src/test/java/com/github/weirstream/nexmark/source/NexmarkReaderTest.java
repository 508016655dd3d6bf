package com.github.weirstream.nexmark.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.weirstream.nexmark.generator.GeneratorConfig;
import com.github.weirstream.nexmark.model.Event;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.SourceOutput;
import org.apache.flink.core.io.InputStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * NexmarkReaderTest drives the reader without Flink: the splits must
 * interleave the one event sequence (docs/nexmark.md §6), each split in order
 * with non-decreasing timestamps, and a snapshot must resume exactly where it
 * was taken.
 */
class NexmarkReaderTest {
    /** Collected is a ReaderOutput that keeps the records of each split. */
    static final class Collected implements ReaderOutput<Event> {
        final Map<String, List<long[]>> bySplit = new HashMap<>();
        final List<String> released = new ArrayList<>();

        @Override
        public void collect(Event e) {
            throw new AssertionError("a record without a split output");
        }

        @Override
        public void collect(Event e, long ts) {
            throw new AssertionError("a record without a split output");
        }

        @Override
        public void emitWatermark(Watermark w) {}

        @Override
        public void markIdle() {}

        @Override
        public void markActive() {}

        @Override
        public SourceOutput<Event> createOutputForSplit(String id) {
            List<long[]> records = bySplit.computeIfAbsent(id, k -> new ArrayList<>());
            return new SourceOutput<>() {
                @Override
                public void collect(Event e) {
                    throw new AssertionError("a record without a timestamp");
                }

                @Override
                public void collect(Event e, long ts) {
                    assertEquals(e.dateTime(), ts, "record timestamp");
                    records.add(new long[] {ts, e.person != null ? 0 : e.auction != null ? 1 : 2});
                }

                @Override
                public void emitWatermark(Watermark w) {}

                @Override
                public void markIdle() {}

                @Override
                public void markActive() {}
            };
        }

        @Override
        public void releaseOutputForSplit(String id) {
            released.add(id);
        }
    }

    static GeneratorConfig config(long events, int splits) {
        GeneratorConfig c = new GeneratorConfig();
        c.events = events;
        c.splits = splits;
        return c;
    }

    static List<NexmarkSplit> splits(int n) {
        List<NexmarkSplit> s = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            s.add(new NexmarkSplit(i, n, i));
        }
        return s;
    }

    /** drain polls r until it ends or polls times, and returns the last status. */
    static InputStatus drain(NexmarkReader r, Collected out, long polls) {
        InputStatus st = InputStatus.MORE_AVAILABLE;
        for (long i = 0; i < polls && st == InputStatus.MORE_AVAILABLE; i++) {
            st = r.pollNext(out);
        }
        return st;
    }

    @ParameterizedTest(name = "{0} events in {1} splits")
    @CsvSource({"1000, 1", "1000, 3", "7, 4", "2, 5"})
    void splitsInterleaveTheEventSequence(long events, int n) {
        NexmarkReader r = new NexmarkReader(config(events, n));
        Collected out = new Collected();
        r.addSplits(splits(n));
        r.notifyNoMoreSplits();
        assertEquals(InputStatus.END_OF_INPUT, drain(r, out, 10 * events + 10));
        long total = 0;
        for (int s = 0; s < n; s++) {
            List<long[]> got = out.bySplit.getOrDefault(NexmarkSplit.id(s, n), List.of());
            long want = events > s ? (events - s + n - 1) / n : 0;
            assertEquals(want, got.size(), "events of split " + s);
            for (int i = 1; i < got.size(); i++) {
                assertTrue(got.get(i)[0] >= got.get(i - 1)[0], "split " + s + ": timestamps decrease at record " + i);
            }
            for (int i = 0; i < got.size(); i++) {
                long ev = s + (long) i * n;
                long kind = ev % 50 < 1 ? 0 : ev % 50 < 4 ? 1 : 2;
                assertEquals(kind, got.get(i)[1], "kind of event " + ev);
            }
            total += got.size();
        }
        assertEquals(events, total);
        assertEquals(n, out.released.size(), "released split outputs");
    }

    @Test
    void snapshotResumesWhereItWasTaken() throws IOException {
        int n = 2;
        NexmarkReader first = new NexmarkReader(config(500, n));
        Collected out = new Collected();
        first.addSplits(splits(n));
        first.notifyNoMoreSplits();
        drain(first, out, 123);
        List<NexmarkSplit> snap = first.snapshotState(1);
        assertEquals(2, snap.size());
        assertEquals(62 * 2, snap.get(0).next, "split 0 resumes after its 62 events");
        assertEquals(61 * 2 + 1, snap.get(1).next, "split 1 resumes after its 61 events");

        SplitSerializers.Split ser = new SplitSerializers.Split();
        List<NexmarkSplit> restored = new ArrayList<>();
        for (NexmarkSplit s : snap) {
            restored.add(ser.deserialize(ser.getVersion(), ser.serialize(s)));
        }
        NexmarkReader second = new NexmarkReader(config(500, n));
        second.addSplits(restored);
        second.notifyNoMoreSplits();
        assertEquals(InputStatus.END_OF_INPUT, drain(second, out, 10_000));
        assertEquals(250, out.bySplit.get(NexmarkSplit.id(0, n)).size());
        assertEquals(250, out.bySplit.get(NexmarkSplit.id(1, n)).size());
    }

    @Test
    void rateLimitedReaderProducesEveryEvent() throws Exception {
        GeneratorConfig c = config(200, 2);
        c.rateLimited = true;
        c.eventsPerSecond = 1_000_000;
        NexmarkReader r = new NexmarkReader(c);
        Collected out = new Collected();
        r.addSplits(splits(2));
        r.notifyNoMoreSplits();
        InputStatus st;
        do {
            st = r.pollNext(out);
            if (st == InputStatus.NOTHING_AVAILABLE) {
                r.isAvailable().get(); // the rate limit's wait, at most 1 ms
            }
        } while (st != InputStatus.END_OF_INPUT);
        assertEquals(100, out.bySplit.get(NexmarkSplit.id(0, 2)).size());
        assertEquals(100, out.bySplit.get(NexmarkSplit.id(1, 2)).size());
    }

    @Test
    void readerWaitsForSplits() {
        NexmarkReader r = new NexmarkReader(config(10, 1));
        Collected out = new Collected();
        assertEquals(InputStatus.NOTHING_AVAILABLE, r.pollNext(out));
        assertTrue(!r.isAvailable().isDone(), "available before any split");
        r.addSplits(splits(1));
        assertTrue(r.isAvailable().isDone(), "not available after a split came");
        r.notifyNoMoreSplits();
        assertEquals(InputStatus.END_OF_INPUT, drain(r, out, 100));
    }

    @Test
    void enumeratorStateRoundTrips() throws IOException {
        SplitSerializers.Enumerator ser = new SplitSerializers.Enumerator();
        List<NexmarkSplit> in = List.of(new NexmarkSplit(0, 3, 30), new NexmarkSplit(2, 3, 2));
        List<NexmarkSplit> back = ser.deserialize(ser.getVersion(), ser.serialize(in));
        assertEquals(in.toString(), back.toString());
        assertThrows(IOException.class, () -> ser.deserialize(ser.getVersion() + 1, ser.serialize(in)));
    }

    @Test
    void splitsRejectPositionsOfOtherSplits() {
        assertThrows(IllegalArgumentException.class, () -> new NexmarkSplit(1, 3, 3));
        assertThrows(IllegalArgumentException.class, () -> new NexmarkSplit(3, 3, 3));
        assertThrows(IllegalArgumentException.class, () -> new NexmarkSplit(0, 3, -3));
    }
}
