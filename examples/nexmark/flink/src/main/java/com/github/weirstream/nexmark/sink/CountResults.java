package com.github.weirstream.nexmark.sink;

import com.github.weirstream.nexmark.model.ResultLine;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.accumulators.LongMaximum;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * CountResults ends every query: it counts the result records into the
 * accumulator {@link #RESULTS} and, when {@code format} is set, emits each one's
 * canonical line (otherwise nothing: a benchmark run only counts, as Weir's
 * counting sink does). It also records the highest completed checkpoint id it
 * was told of in the accumulator {@link #CHECKPOINTS}, so a run can show that it
 * checkpointed.
 */
public final class CountResults<T extends ResultLine> extends ProcessFunction<T, String> implements CheckpointListener {
    /** RESULTS is the name of the accumulator that counts result records. */
    public static final String RESULTS = "results";
    /** CHECKPOINTS is the name of the accumulator that holds the highest completed checkpoint id (0: none). */
    public static final String CHECKPOINTS = "checkpoints";

    private final boolean format;
    private transient LongCounter results;
    private transient LongMaximum checkpoints;

    public CountResults(boolean format) {
        this.format = format;
    }

    @Override
    public void open(OpenContext ctx) {
        results = new LongCounter();
        checkpoints = new LongMaximum(0);
        getRuntimeContext().addAccumulator(RESULTS, results);
        getRuntimeContext().addAccumulator(CHECKPOINTS, checkpoints);
    }

    @Override
    public void processElement(T r, Context ctx, Collector<String> out) {
        results.add(1);
        if (format) {
            out.collect(r.line());
        }
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
        checkpoints.add(checkpointId);
    }
}
