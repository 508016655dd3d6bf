package com.github.weirstream.nexmark.queries;

import com.github.weirstream.nexmark.model.Bid;
import com.github.weirstream.nexmark.model.Event;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Q5 is hot items: per sliding window of 10 s every 2 s, the auctions with the
 * most bids (all of them on a tie). {@link Count}, keyed by auction, counts the
 * bids per 2 s pane and, when the watermark passes a window's end - 1, emits the
 * window's count (the sum of its five panes) if the auction has bids in it;
 * {@link Hot}, keyed by window start, keeps the highest count and its auctions
 * and emits them when the watermark passes the window's end - 1.
 *
 * <p>NB: the panes are what Weir's q5count does and what Flink SQL's sliced
 * HOP windows do; Flink's SlidingEventTimeWindows would instead update five
 * window states per bid, which measures an algorithm rather than the engine.
 */
final class Q5 {
    /** SLIDE_MILLIS is the window slide, and the pane size: 2 s. */
    static final long SLIDE_MILLIS = 2_000;
    /** PANES is the number of panes of a window: 10 s / 2 s. */
    static final int PANES = (int) (Queries.WINDOW_MILLIS / SLIDE_MILLIS);

    private Q5() {}

    static DataStream<Results.Q5> build(DataStream<Event> events) {
        return Queries.bids(events)
                .keyBy(b -> b.auction, Types.LONG)
                .process(new Count(), Types.POJO(Results.Q5.class)).name("q5count")
                .keyBy(r -> r.windowStart, Types.LONG)
                .process(new Hot(), Types.POJO(Results.Q5.class)).name("q5hot");
    }

    /** Count is keyed by auction: its bid count per pane, and each window's count when the window closes. */
    static final class Count extends KeyedProcessFunction<Long, Bid, Results.Q5> {
        private transient MapState<Long, Long> panes;

        @Override
        public void open(OpenContext ctx) {
            panes = getRuntimeContext().getMapState(new MapStateDescriptor<>("panes", Types.LONG, Types.LONG));
        }

        @Override
        public void processElement(Bid b, Context ctx, Collector<Results.Q5> out) throws Exception {
            long pane = Queries.windowStart(b.dateTime, SLIDE_MILLIS);
            Long n = panes.get(pane);
            if (n == null) {
                n = 0L;
                // The windows that hold the pane end at pane + 2000 - 1, ..., pane + 10000 - 1.
                for (int i = 1; i <= PANES; i++) {
                    ctx.timerService().registerEventTimeTimer(pane + i * SLIDE_MILLIS - 1);
                }
            }
            panes.put(pane, n + 1);
        }

        @Override
        public void onTimer(long t, OnTimerContext ctx, Collector<Results.Q5> out) throws Exception {
            long start = t + 1 - Queries.WINDOW_MILLIS;
            long count = 0;
            for (int i = 0; i < PANES; i++) {
                Long n = panes.get(start + i * SLIDE_MILLIS);
                if (n != null) {
                    count += n;
                }
            }
            // This is the last window that holds the pane at its start.
            panes.remove(start);
            if (count > 0) {
                out.collect(new Results.Q5(start, start + Queries.WINDOW_MILLIS, ctx.getCurrentKey(), count));
            }
        }
    }

    /** Hot is keyed by window start: the highest count of the window and the auctions that have it. */
    static final class Hot extends KeyedProcessFunction<Long, Results.Q5, Results.Q5> {
        private transient ValueState<Long> top;
        private transient ListState<Long> auctions;

        @Override
        public void open(OpenContext ctx) {
            top = getRuntimeContext().getState(new ValueStateDescriptor<>("top", Types.LONG));
            auctions = getRuntimeContext().getListState(new ListStateDescriptor<>("auctions", Types.LONG));
        }

        @Override
        public void processElement(Results.Q5 r, Context ctx, Collector<Results.Q5> out) throws Exception {
            Long t = top.value();
            if (t == null) {
                ctx.timerService().registerEventTimeTimer(r.windowEnd - 1);
            }
            if (t == null || r.count > t) {
                top.update(r.count);
                auctions.clear();
                auctions.add(r.auction);
            } else if (r.count == t) {
                auctions.add(r.auction);
            }
        }

        @Override
        public void onTimer(long t, OnTimerContext ctx, Collector<Results.Q5> out) throws Exception {
            long start = ctx.getCurrentKey();
            long count = top.value();
            for (long a : auctions.get()) {
                out.collect(new Results.Q5(start, start + Queries.WINDOW_MILLIS, a, count));
            }
            top.clear();
            auctions.clear();
        }
    }
}
