package com.github.weirstream.nexmark.queries;

import com.github.weirstream.nexmark.model.Bid;
import org.apache.flink.api.common.functions.AggregateFunction;

/** CountBids counts the bids of a window (q5's sliding windows, q11's sessions). */
final class CountBids implements AggregateFunction<Bid, Long, Long> {
    @Override
    public Long createAccumulator() {
        return 0L;
    }

    @Override
    public Long add(Bid b, Long n) {
        return n + 1;
    }

    @Override
    public Long getResult(Long n) {
        return n;
    }

    @Override
    public Long merge(Long a, Long b) {
        return a + b;
    }
}
