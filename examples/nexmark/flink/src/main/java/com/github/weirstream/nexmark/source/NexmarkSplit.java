package com.github.weirstream.nexmark.source;

import org.apache.flink.api.connector.source.SourceSplit;

/**
 * NexmarkSplit is split {@code index} of {@code count} (docs/nexmark.md §6): the
 * events n = index, index + count, index + 2*count, ... below the run's event
 * count, starting at {@code next}, the event number of the split's next event
 * (its position). It is immutable.
 */
public final class NexmarkSplit implements SourceSplit {
    /** index is the split's number, 0 <= index < count. */
    public final int index;
    /** count is the number of splits of the source. */
    public final int count;
    /** next is the event number of the split's next event. */
    public final long next;

    /** NexmarkSplit checks that next is an event of split index of count. */
    public NexmarkSplit(int index, int count, long next) {
        if (count < 1 || index < 0 || index >= count) {
            throw new IllegalArgumentException("nexmark split: index " + index + " is outside 0.." + (count - 1));
        }
        if (next < index || (next - index) % count != 0) {
            throw new IllegalArgumentException("nexmark split " + id(index, count) + ": position " + next + " is not an event number of this split");
        }
        this.index = index;
        this.count = count;
        this.next = next;
    }

    /** id returns the id of split index of count: "nexmark-<index>-of-<count>", as in Weir. */
    public static String id(int index, int count) {
        return "nexmark-" + index + "-of-" + count;
    }

    @Override
    public String splitId() {
        return id(index, count);
    }

    @Override
    public String toString() {
        return splitId() + "@" + next;
    }
}
