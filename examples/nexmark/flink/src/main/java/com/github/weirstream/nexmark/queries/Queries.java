package com.github.weirstream.nexmark.queries;

import com.github.weirstream.nexmark.model.Bid;
import com.github.weirstream.nexmark.model.Event;
import com.github.weirstream.nexmark.model.ResultLine;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.DataStream;

/**
 * Queries is the catalog of the Nexmark queries on Flink's DataStream API, with
 * the semantics of docs/nexmark.md §8 (the same as Weir's examples/nexmark):
 * each builds, from the stream of all events, the stream of its result
 * records. Windows and timers use event time (the events' dateTime).
 */
public final class Queries {
    /** Q1_RATE_PER_MILLE is q1's dollar-to-euro rate, 0.908, as a fraction of 1000. */
    static final long Q1_RATE_PER_MILLE = 908;
    /** Q2_AUCTION_MODULUS selects q2's auctions: auction % 123 == 0. */
    static final long Q2_AUCTION_MODULUS = 123;
    /** WINDOW_MILLIS is the window size of q5, q7 and q8, and q11's session gap: 10 s. */
    static final long WINDOW_MILLIS = 10_000;

    static final TypeInformation<Bid> BID = Types.POJO(Bid.class);

    private static final Map<String, Function<DataStream<Event>, DataStream<? extends ResultLine>>> QUERIES = new LinkedHashMap<>();

    static {
        QUERIES.put("q0", Queries::q0);
        QUERIES.put("q1", Queries::q1);
        QUERIES.put("q2", Queries::q2);
        QUERIES.put("q3", Q3::build);
        QUERIES.put("q4", Q4::build);
        QUERIES.put("q5", Q5::build);
        QUERIES.put("q7", Q7::build);
        QUERIES.put("q8", Q8::build);
        QUERIES.put("q11", Q11::build);
    }

    private Queries() {}

    /** names returns the names of the queries, in order. */
    public static List<String> names() {
        return List.copyOf(QUERIES.keySet());
    }

    /**
     * build returns the result stream of query over events; it throws
     * IllegalArgumentException, listing the known queries, for an unknown name.
     */
    public static DataStream<? extends ResultLine> build(String query, DataStream<Event> events) {
        Function<DataStream<Event>, DataStream<? extends ResultLine>> q = QUERIES.get(query);
        if (q == null) {
            throw new IllegalArgumentException("unknown nexmark query \"" + query + "\" (known: " + String.join(", ", names()) + ")");
        }
        return q.apply(events);
    }

    /** bids returns the bids of events. */
    static DataStream<Bid> bids(DataStream<Event> events) {
        return events.filter(e -> e.bid != null).name("bids").map(e -> e.bid).returns(BID).name("bid");
    }

    /** windowStart returns the start of the window of size size (aligned to the epoch) that holds t. */
    static long windowStart(long t, long size) {
        return Math.floorDiv(t, size) * size;
    }

    /** q0: every bid, unchanged. */
    static DataStream<Bid> q0(DataStream<Event> events) {
        return bids(events);
    }

    /** q1: every bid, its price converted to euros: price * 908 / 1000. */
    static DataStream<Bid> q1(DataStream<Event> events) {
        return events.filter(e -> e.bid != null).name("bids")
                .map(e -> e.bid.withPrice(e.bid.price * Q1_RATE_PER_MILLE / 1000)).returns(BID).name("q1");
    }

    /** q2: auction and price of the bids whose auction % 123 == 0. */
    static DataStream<Results.Q2> q2(DataStream<Event> events) {
        return events.filter(e -> e.bid != null && e.bid.auction % Q2_AUCTION_MODULUS == 0).name("q2filter")
                .map(e -> new Results.Q2(e.bid.auction, e.bid.price)).returns(Types.POJO(Results.Q2.class)).name("q2");
    }
}
