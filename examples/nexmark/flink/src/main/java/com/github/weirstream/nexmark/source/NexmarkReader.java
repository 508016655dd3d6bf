package com.github.weirstream.nexmark.source;

import com.github.weirstream.nexmark.generator.Generator;
import com.github.weirstream.nexmark.generator.GeneratorConfig;
import com.github.weirstream.nexmark.model.Event;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.SourceOutput;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.core.io.InputStatus;

/**
 * NexmarkReader generates the events of the splits assigned to one source
 * subtask, one event per {@link #pollNext} call, taking the splits in turn. Each
 * split has its own {@link SourceOutput}, so Flink generates a watermark per
 * split (a split's timestamps never decrease) and the subtask's watermark is the
 * lowest of its splits' (docs/nexmark.md §6). A split that ends releases its
 * output. With a rate limit, a split opened at time t0 has produced at most
 * floor((now - t0) * eventsPerSecond / splits) events. It runs in the task's
 * thread only, as SourceReader requires.
 */
final class NexmarkReader implements SourceReader<Event, NexmarkSplit> {
    /** MAX_IDLE_WAIT_NANOS bounds how long the reader waits when the rate limit holds it back. */
    private static final long MAX_IDLE_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    private final Generator generator;
    /** end is the number of events of the run (Long.MAX_VALUE when unbounded). */
    private final long end;
    /** perSecond is the event rate of one split in processing time; 0: unlimited. */
    private final double perSecond;

    private final List<Cursor> cursors = new ArrayList<>();
    private int turn;
    private boolean noMoreSplits;
    private CompletableFuture<Void> available = CompletableFuture.completedFuture(null);

    /** Cursor is the progress of one split. */
    private static final class Cursor {
        final NexmarkSplit split;
        final String id;
        long next;
        SourceOutput<Event> output;
        long openedNanos;
        long produced;

        Cursor(NexmarkSplit split) {
            this.split = split;
            this.id = split.splitId();
            this.next = split.next;
        }
    }

    NexmarkReader(GeneratorConfig cfg) {
        this.generator = new Generator(cfg);
        this.end = cfg.events == 0 ? Long.MAX_VALUE : cfg.events;
        this.perSecond = cfg.rateLimited ? (double) cfg.eventsPerSecond / cfg.splits : 0;
    }

    @Override
    public void start() {}

    @Override
    public InputStatus pollNext(ReaderOutput<Event> output) {
        if (cursors.isEmpty()) {
            return idleStatus();
        }
        if (turn >= cursors.size()) {
            turn = 0;
        }
        Cursor c = cursors.get(turn);
        if (c.output == null) {
            c.output = output.createOutputForSplit(c.id);
            c.openedNanos = System.nanoTime();
        }
        if (c.next >= end) {
            finish(output, c);
            return cursors.isEmpty() ? idleStatus() : InputStatus.MORE_AVAILABLE;
        }
        if (perSecond > 0 && !allowed(c)) {
            return InputStatus.NOTHING_AVAILABLE;
        }
        long n = c.next;
        c.output.collect(generator.event(n), generator.timestamp(n));
        c.next = n + c.split.count;
        c.produced++;
        if (c.next >= end) {
            finish(output, c);
            return cursors.isEmpty() ? idleStatus() : InputStatus.MORE_AVAILABLE;
        }
        turn++;
        return InputStatus.MORE_AVAILABLE;
    }

    /** allowed reports whether the rate limit lets c emit now; otherwise it arms the availability future. */
    private boolean allowed(Cursor c) {
        double elapsed = (System.nanoTime() - c.openedNanos) / 1e9;
        double budget = Math.floor(elapsed * perSecond) - c.produced;
        if (budget >= 1) {
            return true;
        }
        long wait = (long) ((c.produced + 1 - elapsed * perSecond) / perSecond * 1e9);
        CompletableFuture<Void> f = new CompletableFuture<>();
        available = f;
        CompletableFuture.delayedExecutor(Math.max(1, Math.min(wait, MAX_IDLE_WAIT_NANOS)), TimeUnit.NANOSECONDS)
                .execute(() -> f.complete(null));
        return false;
    }

    private void finish(ReaderOutput<Event> output, Cursor c) {
        output.releaseOutputForSplit(c.id);
        cursors.remove(c);
    }

    /** idleStatus is the status when no split is left: the end, or a wait for splits. */
    private InputStatus idleStatus() {
        if (noMoreSplits) {
            return InputStatus.END_OF_INPUT;
        }
        if (available.isDone()) {
            available = new CompletableFuture<>();
        }
        return InputStatus.NOTHING_AVAILABLE;
    }

    @Override
    public List<NexmarkSplit> snapshotState(long checkpointId) {
        List<NexmarkSplit> state = new ArrayList<>(cursors.size());
        for (Cursor c : cursors) {
            state.add(new NexmarkSplit(c.split.index, c.split.count, c.next));
        }
        return state;
    }

    @Override
    public CompletableFuture<Void> isAvailable() {
        return available;
    }

    @Override
    public void addSplits(List<NexmarkSplit> splits) {
        for (NexmarkSplit s : splits) {
            cursors.add(new Cursor(s));
        }
        available.complete(null);
    }

    @Override
    public void notifyNoMoreSplits() {
        noMoreSplits = true;
        available.complete(null);
    }

    @Override
    public void close() {}
}
