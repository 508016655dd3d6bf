package com.github.weirstream.nexmark.queries;

import com.github.weirstream.nexmark.model.Event;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Q8 is monitor new users: the persons who opened an auction in the 10 s
 * tumbling window of their registration, one line per person. Persons keyed by
 * id and auctions keyed by seller meet in {@link Join}, which remembers the
 * person's window and name and the windows in which the key sold, and decides
 * when the watermark passes the window's end - 1.
 */
final class Q8 {
    private Q8() {}

    /** Newcomer is what the join keeps of a person. */
    public static class Newcomer {
        public long id;
        public String name;
        public long windowStart;

        public Newcomer() {}
    }

    /** Sale is what the join needs of an auction. */
    public static class Sale {
        public long seller;
        public long windowStart;

        public Sale() {}
    }

    static DataStream<Results.Q8> build(DataStream<Event> events) {
        DataStream<Newcomer> persons = events.filter(e -> e.person != null).name("q8persons")
                .map(e -> {
                    Newcomer n = new Newcomer();
                    n.id = e.person.id;
                    n.name = e.person.name;
                    n.windowStart = Queries.windowStart(e.person.dateTime, Queries.WINDOW_MILLIS);
                    return n;
                }).returns(Types.POJO(Newcomer.class)).name("q8person");
        DataStream<Sale> sales = events.filter(e -> e.auction != null).name("q8auctions")
                .map(e -> {
                    Sale s = new Sale();
                    s.seller = e.auction.seller;
                    s.windowStart = Queries.windowStart(e.auction.dateTime, Queries.WINDOW_MILLIS);
                    return s;
                }).returns(Types.POJO(Sale.class)).name("q8auction");
        return persons.keyBy(n -> n.id, Types.LONG)
                .connect(sales.keyBy(s -> s.seller, Types.LONG))
                .process(new Join(), Types.POJO(Results.Q8.class)).name("q8join");
    }

    /** Join is keyed by person id. */
    static final class Join extends KeyedCoProcessFunction<Long, Newcomer, Sale, Results.Q8> {
        private transient ValueState<Newcomer> person;
        private transient MapState<Long, Boolean> sold;

        @Override
        public void open(OpenContext ctx) {
            person = getRuntimeContext().getState(new ValueStateDescriptor<>("person", Types.POJO(Newcomer.class)));
            sold = getRuntimeContext().getMapState(new MapStateDescriptor<>("sold", Types.LONG, Types.BOOLEAN));
        }

        @Override
        public void processElement1(Newcomer n, Context ctx, Collector<Results.Q8> out) throws Exception {
            person.update(n);
            ctx.timerService().registerEventTimeTimer(n.windowStart + Queries.WINDOW_MILLIS - 1);
        }

        @Override
        public void processElement2(Sale s, Context ctx, Collector<Results.Q8> out) throws Exception {
            sold.put(s.windowStart, true);
            ctx.timerService().registerEventTimeTimer(s.windowStart + Queries.WINDOW_MILLIS - 1);
        }

        @Override
        public void onTimer(long t, OnTimerContext ctx, Collector<Results.Q8> out) throws Exception {
            long w = t + 1 - Queries.WINDOW_MILLIS;
            boolean didSell = sold.contains(w);
            if (didSell) {
                sold.remove(w);
            }
            Newcomer n = person.value();
            if (n == null || n.windowStart != w) {
                return;
            }
            if (didSell) {
                out.collect(new Results.Q8(n.id, n.name, w));
            }
            person.clear();
        }
    }
}
