package com.github.weirstream.nexmark.source;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;

/**
 * NexmarkEnumerator assigns split i to reader i % parallelism when that reader
 * registers, then tells it there are no more splits. Splits handed back after a
 * reader failed wait for the reader to register again. Its checkpoint is the
 * list of unassigned splits. It is used from the coordinator thread only.
 */
final class NexmarkEnumerator implements SplitEnumerator<NexmarkSplit, List<NexmarkSplit>> {
    private final SplitEnumeratorContext<NexmarkSplit> context;
    private final List<NexmarkSplit> unassigned;

    NexmarkEnumerator(SplitEnumeratorContext<NexmarkSplit> context, List<NexmarkSplit> unassigned) {
        this.context = context;
        this.unassigned = new ArrayList<>(unassigned);
    }

    @Override
    public void start() {}

    @Override
    public void handleSplitRequest(int subtask, String requesterHostname) {
        // Splits are pushed on registration; there is nothing more to hand out.
    }

    @Override
    public void addSplitsBack(List<NexmarkSplit> splits, int subtask) {
        // The failed reader's replacement gets them when it registers (addReader).
        unassigned.addAll(splits);
    }

    @Override
    public void addReader(int subtask) {
        int parallelism = context.currentParallelism();
        for (Iterator<NexmarkSplit> it = unassigned.iterator(); it.hasNext(); ) {
            NexmarkSplit s = it.next();
            if (s.index % parallelism == subtask) {
                context.assignSplit(s, subtask);
                it.remove();
            }
        }
        context.signalNoMoreSplits(subtask);
    }

    @Override
    public List<NexmarkSplit> snapshotState(long checkpointId) {
        return new ArrayList<>(unassigned);
    }

    @Override
    public void close() {}
}
