package com.github.weirstream.nexmark.queries;

import com.github.weirstream.nexmark.model.Event;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.functions.co.KeyedCoProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Q3 is local item suggestion: every pair of a person of OR, ID or CA and a
 * category-10 auction they sell, whatever the order in which the two arrive (a
 * non-windowed inner join whose state lasts the whole run). Persons are keyed by
 * id and auctions by seller; {@link Join} keeps the person, and the auctions
 * that arrived before it.
 */
final class Q3 {
    /** CATEGORY is the auction category q3 selects. */
    static final long CATEGORY = 10;

    private Q3() {}

    /** Seller is what the join keeps of a person. */
    public static class Seller {
        public long id;
        public String name;
        public String city;
        public String state;

        public Seller() {}
    }

    /** Item is what the join needs of an auction. */
    public static class Item {
        public long id;
        public long seller;

        public Item() {}
    }

    static boolean localState(String s) {
        return s.equals("OR") || s.equals("ID") || s.equals("CA");
    }

    static DataStream<Results.Q3> build(DataStream<Event> events) {
        DataStream<Seller> sellers = events.filter(e -> e.person != null && localState(e.person.state)).name("q3persons")
                .map(e -> {
                    Seller s = new Seller();
                    s.id = e.person.id;
                    s.name = e.person.name;
                    s.city = e.person.city;
                    s.state = e.person.state;
                    return s;
                }).returns(Types.POJO(Seller.class)).name("q3seller");
        DataStream<Item> items = events.filter(e -> e.auction != null && e.auction.category == CATEGORY).name("q3auctions")
                .map(e -> {
                    Item i = new Item();
                    i.id = e.auction.id;
                    i.seller = e.auction.seller;
                    return i;
                }).returns(Types.POJO(Item.class)).name("q3item");
        return sellers.keyBy(s -> s.id, Types.LONG)
                .connect(items.keyBy(i -> i.seller, Types.LONG))
                .process(new Join(), Types.POJO(Results.Q3.class)).name("q3join");
    }

    /** Join is keyed by person id: it emits each auction of the key's person once both have arrived. */
    static final class Join extends KeyedCoProcessFunction<Long, Seller, Item, Results.Q3> {
        private transient ValueState<Seller> seller;
        private transient ListState<Long> waiting;

        @Override
        public void open(OpenContext ctx) {
            TypeInformation<Seller> sellerType = Types.POJO(Seller.class);
            seller = getRuntimeContext().getState(new ValueStateDescriptor<>("seller", sellerType));
            waiting = getRuntimeContext().getListState(new ListStateDescriptor<>("waiting", Types.LONG));
        }

        @Override
        public void processElement1(Seller s, Context ctx, Collector<Results.Q3> out) throws Exception {
            seller.update(s);
            Iterable<Long> ids = waiting.get();
            if (ids != null) {
                for (long id : ids) {
                    out.collect(new Results.Q3(s.name, s.city, s.state, id));
                }
            }
            waiting.clear();
        }

        @Override
        public void processElement2(Item i, Context ctx, Collector<Results.Q3> out) throws Exception {
            Seller s = seller.value();
            if (s != null) {
                out.collect(new Results.Q3(s.name, s.city, s.state, i.id));
            } else {
                waiting.add(i.id);
            }
        }
    }
}
