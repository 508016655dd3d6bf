package com.github.weirstream.nexmark.queries;

import com.github.weirstream.nexmark.model.Event;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Q4 is the average winning price per category. {@link Winning}, keyed by
 * auction id, emits each auction's winning price (the highest bid with
 * a.dateTime <= b.dateTime <= a.expires) when the watermark passes its expiry;
 * {@link Average}, keyed by category, folds the winning prices of each close
 * time into running sums and emits one line per category and close time once
 * the watermark passes it, so that simultaneous closes are one update.
 */
final class Q4 {
    private Q4() {}

    /** Open is an auction as Winning sees it. */
    public static class Open {
        public long id;
        public long dateTime;
        public long expires;
        public long category;

        public Open() {}
    }

    /** Kept is what Winning keeps of its auction: the auction, its best qualifying price (0: none) and whether it closed. */
    public static class Kept {
        public long dateTime;
        public long expires;
        public long category;
        public long best;
        public boolean closed;

        public Kept() {}

        /**
         * forgetAt is when Winning forgets a closed auction: until then a late
         * bid for it costs one state read; after, it waits in early until the
         * watermark passes it, which gives the same result at a higher cost.
         * Bids for an auction come within about its length after it opens, so
         * twice its length and 10 s more covers nearly all of them.
         */
        long forgetAt() {
            return expires + 2 * (expires - dateTime) + Queries.WINDOW_MILLIS;
        }
    }

    /** Offer is a bid as Winning sees it. */
    public static class Offer {
        public long auction;
        public long dateTime;
        public long price;

        public Offer() {}
    }

    /** Winner is an auction's winning price, emitted at its expiry. */
    public static class Winner {
        public long category;
        public long expires;
        public long price;

        public Winner() {}

        Winner(long category, long expires, long price) {
            this.category = category;
            this.expires = expires;
            this.price = price;
        }
    }

    /** Totals are the count and sum of winning prices. */
    public static class Totals {
        public long count;
        public long sum;

        public Totals() {}
    }

    static DataStream<Results.Q4> build(DataStream<Event> events) {
        DataStream<Open> auctions = events.filter(e -> e.auction != null).name("q4auctions")
                .map(e -> {
                    Open o = new Open();
                    o.id = e.auction.id;
                    o.dateTime = e.auction.dateTime;
                    o.expires = e.auction.expires;
                    o.category = e.auction.category;
                    return o;
                }).returns(Types.POJO(Open.class)).name("q4auction");
        DataStream<Offer> bids = events.filter(e -> e.bid != null).name("q4bids")
                .map(e -> {
                    Offer o = new Offer();
                    o.auction = e.bid.auction;
                    o.dateTime = e.bid.dateTime;
                    o.price = e.bid.price;
                    return o;
                }).returns(Types.POJO(Offer.class)).name("q4bid");
        return auctions.keyBy(a -> a.id, Types.LONG)
                .connect(bids.keyBy(b -> b.auction, Types.LONG))
                .process(new Winning(), Types.POJO(Winner.class)).name("q4winning")
                .keyBy(w -> w.category, Types.LONG)
                .process(new Average(), Types.POJO(Results.Q4.class)).name("q4average");
    }

    /**
     * Winning is keyed by auction id. It keeps the auction and its best
     * qualifying price, and emits the price when the watermark passes the
     * expiry; the closed auction stays, marked, until {@link Kept#forgetAt}, so
     * that late bids are dropped at the cost of one read. Bids that arrive
     * before their auction wait in early; once the watermark passes a waiting
     * bid's dateTime without the auction, no auction can take it (an auction's
     * dateTime is at most its bids'), and a timer at the end of the second of
     * the latest waiting bid drops them all (one timer per second rather than
     * per bid). This is the algorithm of Weir's q4winning.
     */
    static final class Winning extends KeyedCoProcessFunction<Long, Open, Offer, Winner> {
        private transient ValueState<Kept> auction;
        private transient ListState<Tuple2<Long, Long>> early;
        private transient ValueState<Long> earlyUntil;

        @Override
        public void open(OpenContext ctx) {
            auction = getRuntimeContext().getState(new ValueStateDescriptor<>("auction", Types.POJO(Kept.class)));
            early = getRuntimeContext().getListState(new ListStateDescriptor<>("early", Types.TUPLE(Types.LONG, Types.LONG)));
            earlyUntil = getRuntimeContext().getState(new ValueStateDescriptor<>("earlyUntil", Types.LONG));
        }

        /** earlyCleanup is when a bid at ts waiting for its auction becomes useless: the last ms of its second. */
        static long earlyCleanup(long ts) {
            return Queries.windowStart(ts, 1000) + 999;
        }

        @Override
        public void processElement1(Open a, Context ctx, Collector<Winner> out) throws Exception {
            Kept k = new Kept();
            k.dateTime = a.dateTime;
            k.expires = a.expires;
            k.category = a.category;
            if (earlyUntil.value() != null) {
                for (Tuple2<Long, Long> b : early.get()) {
                    if (b.f0 >= k.dateTime && b.f0 <= k.expires && b.f1 > k.best) {
                        k.best = b.f1;
                    }
                }
                early.clear();
                earlyUntil.clear();
            }
            auction.update(k);
            ctx.timerService().registerEventTimeTimer(k.expires);
        }

        @Override
        public void processElement2(Offer o, Context ctx, Collector<Winner> out) throws Exception {
            Kept k = auction.value();
            if (k != null) {
                if (!k.closed && o.dateTime >= k.dateTime && o.dateTime <= k.expires && o.price > k.best) {
                    k.best = o.price;
                    auction.update(k);
                }
                return;
            }
            early.add(Tuple2.of(o.dateTime, o.price));
            long at = earlyCleanup(o.dateTime);
            Long until = earlyUntil.value();
            if (until == null || at > until) {
                ctx.timerService().registerEventTimeTimer(at);
                earlyUntil.update(at);
            }
        }

        @Override
        public void onTimer(long t, OnTimerContext ctx, Collector<Winner> out) throws Exception {
            Kept k = auction.value();
            if (k != null) {
                if (!k.closed && t == k.expires) {
                    if (k.best > 0) {
                        out.collect(new Winner(k.category, k.expires, k.best));
                    }
                    k.closed = true;
                    auction.update(k);
                    ctx.timerService().registerEventTimeTimer(k.forgetAt());
                } else if (k.closed && t >= k.forgetAt()) {
                    auction.clear();
                }
                // Otherwise a timer of bids that waited for this auction.
                return;
            }
            Long until = earlyUntil.value();
            if (until != null && t >= until) {
                early.clear();
                earlyUntil.clear();
            }
        }
    }

    /** Average is keyed by category: running count and sum of winning prices, emitted per close time. */
    static final class Average extends KeyedProcessFunction<Long, Winner, Results.Q4> {
        private transient ValueState<Totals> totals;
        private transient MapState<Long, Totals> closing;

        @Override
        public void open(OpenContext ctx) {
            totals = getRuntimeContext().getState(new ValueStateDescriptor<>("totals", Types.POJO(Totals.class)));
            closing = getRuntimeContext().getMapState(new MapStateDescriptor<>("closing", Types.LONG, Types.POJO(Totals.class)));
        }

        @Override
        public void processElement(Winner w, Context ctx, Collector<Results.Q4> out) throws Exception {
            Totals c = closing.get(w.expires);
            if (c == null) {
                c = new Totals();
                ctx.timerService().registerEventTimeTimer(w.expires);
            }
            c.count++;
            c.sum += w.price;
            closing.put(w.expires, c);
        }

        @Override
        public void onTimer(long t, OnTimerContext ctx, Collector<Results.Q4> out) throws Exception {
            Totals c = closing.get(t);
            if (c == null) {
                return;
            }
            closing.remove(t);
            Totals run = totals.value();
            if (run == null) {
                run = new Totals();
            }
            run.count += c.count;
            run.sum += c.sum;
            totals.update(run);
            out.collect(new Results.Q4(ctx.getCurrentKey(), t, run.count, run.sum));
        }
    }
}
