package com.github.weirstream.nexmark.queries;

import com.github.weirstream.nexmark.model.Bid;
import com.github.weirstream.nexmark.model.Event;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;

/**
 * Q7 is highest bid: per tumbling window of 10 s, the bids with the highest
 * price (all of them on a tie). A local step keyed by auction keeps each
 * auction's highest bids per window (Flink's tumbling event-time windows with
 * an incremental aggregate); {@link Global}, keyed by window start, keeps the
 * window's highest bids and emits them when the watermark passes the window's
 * end - 1.
 */
final class Q7 {
    private Q7() {}

    static final TypeInformation<List<Bid>> BIDS = Types.LIST(Queries.BID);

    static DataStream<Results.Q7> build(DataStream<Event> events) {
        return Queries.bids(events)
                .keyBy(b -> b.auction, Types.LONG)
                .window(TumblingEventTimeWindows.of(Duration.ofMillis(Queries.WINDOW_MILLIS)))
                .aggregate(new Highest(), new PerWindow(), BIDS, BIDS, Types.POJO(Results.Q7.class)).name("q7local")
                .keyBy(r -> r.windowStart, Types.LONG)
                .process(new Global(), Types.POJO(Results.Q7.class)).name("q7global");
    }

    /** Highest keeps the bids with the highest price (all share it). */
    static final class Highest implements AggregateFunction<Bid, List<Bid>, List<Bid>> {
        @Override
        public List<Bid> createAccumulator() {
            return new ArrayList<>(1);
        }

        @Override
        public List<Bid> add(Bid b, List<Bid> top) {
            if (top.isEmpty() || b.price == top.get(0).price) {
                top.add(b);
            } else if (b.price > top.get(0).price) {
                top.clear();
                top.add(b);
            }
            return top;
        }

        @Override
        public List<Bid> getResult(List<Bid> top) {
            return top;
        }

        @Override
        public List<Bid> merge(List<Bid> a, List<Bid> b) {
            for (Bid x : b) {
                add(x, a);
            }
            return a;
        }
    }

    /** PerWindow emits each of an auction's highest bids with its window start. */
    static final class PerWindow extends ProcessWindowFunction<List<Bid>, Results.Q7, Long, TimeWindow> {
        @Override
        public void process(Long auction, Context ctx, Iterable<List<Bid>> tops, Collector<Results.Q7> out) {
            long start = ctx.window().getStart();
            for (List<Bid> top : tops) {
                for (Bid b : top) {
                    out.collect(new Results.Q7(start, b));
                }
            }
        }
    }

    /** Global is keyed by window start: the window's highest price and the bids that have it. */
    static final class Global extends KeyedProcessFunction<Long, Results.Q7, Results.Q7> {
        private transient ValueState<Long> top;
        private transient ListState<Bid> bids;

        @Override
        public void open(OpenContext ctx) {
            top = getRuntimeContext().getState(new ValueStateDescriptor<>("top", Types.LONG));
            bids = getRuntimeContext().getListState(new ListStateDescriptor<>("bids", Queries.BID));
        }

        @Override
        public void processElement(Results.Q7 r, Context ctx, Collector<Results.Q7> out) throws Exception {
            Long t = top.value();
            if (t == null) {
                ctx.timerService().registerEventTimeTimer(r.windowStart + Queries.WINDOW_MILLIS - 1);
            }
            if (t == null || r.bid.price > t) {
                top.update(r.bid.price);
                bids.clear();
                bids.add(r.bid);
            } else if (r.bid.price == t) {
                bids.add(r.bid);
            }
        }

        @Override
        public void onTimer(long t, OnTimerContext ctx, Collector<Results.Q7> out) throws Exception {
            long start = ctx.getCurrentKey();
            for (Bid b : bids.get()) {
                out.collect(new Results.Q7(start, b));
            }
            top.clear();
            bids.clear();
        }
    }
}
