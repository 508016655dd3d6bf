package com.github.weirstream.nexmark.generator;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * GeneratorConfig is the generator's configuration (docs/nexmark.md §2), with
 * the same options, defaults and limits as the Go generator (plugins/nexmark).
 * Fields are public and mutable; {@link #validate()} checks them all at once.
 */
public final class GeneratorConfig implements Serializable {
    private static final long serialVersionUID = 1L;

    /** MAX_SPLITS bounds {@link #splits}. */
    public static final int MAX_SPLITS = 1 << 16;
    /** MAX_TOTAL_PROPORTION bounds personProportion + auctionProportion + bidProportion. */
    public static final long MAX_TOTAL_PROPORTION = 1_000_000L;
    /** MAX_COUNT bounds numInFlightAuctions and numActivePeople. */
    public static final long MAX_COUNT = 1_000_000_000L;
    /** MAX_EVENTS_PER_SECOND bounds the event-time rate. */
    public static final long MAX_EVENTS_PER_SECOND = 1_000_000_000L;
    /** MAX_AVG_BYTE_SIZE bounds the avg*ByteSize options, in bytes. */
    public static final long MAX_AVG_BYTE_SIZE = 10_000L;
    /** MAX_BOUND is the largest bound of a draw U(b): 2^32. */
    public static final long MAX_BOUND = 1L << 32;
    /** MAX_UNBOUNDED_EVENT is the event number up to which an unbounded run's timestamps must not overflow. */
    public static final long MAX_UNBOUNDED_EVENT = 1L << 53;
    /** DEFAULT_FIRST_EVENT_TIME is 2025-01-01T00:00:00Z in ms since the Unix epoch. */
    public static final long DEFAULT_FIRST_EVENT_TIME = 1735689600000L;
    /** NO_TIMESTAMP is Weir's abi.NoTimestamp (math.MinInt64), which no event may have. */
    public static final long NO_TIMESTAMP = Long.MIN_VALUE;

    /** seed is an unsigned 64-bit seed, held in a long's bits. */
    public long seed = 1;
    /** events is the number of events; 0: unbounded. */
    public long events = 0;
    /** splits is the number of splits that interleave the events (docs/nexmark.md §6). */
    public int splits = 1;
    /** firstEventTime is the dateTime of event 0, in ms since the Unix epoch. */
    public long firstEventTime = DEFAULT_FIRST_EVENT_TIME;
    /** eventsPerSecond is the event-time rate; with rateLimited, also the processing-time rate. */
    public long eventsPerSecond = 10_000;
    /** rateLimited makes the source emit at eventsPerSecond in processing time. */
    public boolean rateLimited = false;

    public long personProportion = 1;
    public long auctionProportion = 3;
    public long bidProportion = 46;

    public long hotAuctionRatio = 2;
    public long hotSellersRatio = 4;
    public long hotBiddersRatio = 4;

    public long numInFlightAuctions = 100;
    public long numActivePeople = 1000;

    public long avgPersonByteSize = 200;
    public long avgAuctionByteSize = 500;
    public long avgBidByteSize = 100;

    /** totalProportion returns P + A + B. */
    public long totalProportion() {
        return personProportion + auctionProportion + bidProportion;
    }

    /** copy returns an independent copy of this configuration. */
    public GeneratorConfig copy() {
        GeneratorConfig c = new GeneratorConfig();
        c.seed = seed;
        c.events = events;
        c.splits = splits;
        c.firstEventTime = firstEventTime;
        c.eventsPerSecond = eventsPerSecond;
        c.rateLimited = rateLimited;
        c.personProportion = personProportion;
        c.auctionProportion = auctionProportion;
        c.bidProportion = bidProportion;
        c.hotAuctionRatio = hotAuctionRatio;
        c.hotSellersRatio = hotSellersRatio;
        c.hotBiddersRatio = hotBiddersRatio;
        c.numInFlightAuctions = numInFlightAuctions;
        c.numActivePeople = numActivePeople;
        c.avgPersonByteSize = avgPersonByteSize;
        c.avgAuctionByteSize = avgAuctionByteSize;
        c.avgBidByteSize = avgBidByteSize;
        return c;
    }

    /**
     * validate throws an IllegalArgumentException that lists every option out of
     * range or inconsistent with the others, each message naming the option, in
     * the order and with the limits of the Go generator's Config.Validate.
     */
    public void validate() {
        List<String> errs = new ArrayList<>();
        if (events < 0) {
            errs.add(bad("events", events + " is negative (0 means unbounded)"));
        }
        if (splits < 1 || splits > MAX_SPLITS) {
            errs.add(bad("splits", splits + " is outside 1.." + MAX_SPLITS));
        }
        if (eventsPerSecond < 1 || eventsPerSecond > MAX_EVENTS_PER_SECOND) {
            errs.add(bad("eventsPerSecond", eventsPerSecond + " is outside 1.." + MAX_EVENTS_PER_SECOND));
        }
        if (firstEventTime == NO_TIMESTAMP) {
            errs.add(bad("firstEventTime", firstEventTime + " is Weir's NoTimestamp"));
        }
        if (personProportion < 1) {
            errs.add(bad("personProportion", personProportion + " is less than 1; auctions and bids need people"));
        }
        if (auctionProportion < 1) {
            errs.add(bad("auctionProportion", auctionProportion + " is less than 1; bids need auctions"));
        }
        if (bidProportion < 0) {
            errs.add(bad("bidProportion", bidProportion + " is negative"));
        }
        boolean proportionsOK = personProportion >= 1 && auctionProportion >= 1 && bidProportion >= 0;
        if (proportionsOK && totalProportion() > MAX_TOTAL_PROPORTION) {
            errs.add(bad("bidProportion", "personProportion + auctionProportion + bidProportion = " + totalProportion()
                    + " is more than " + MAX_TOTAL_PROPORTION));
            proportionsOK = false;
        }
        checkRatio(errs, "hotAuctionRatio", hotAuctionRatio);
        checkRatio(errs, "hotSellersRatio", hotSellersRatio);
        checkRatio(errs, "hotBiddersRatio", hotBiddersRatio);
        if (numInFlightAuctions < 1 || numInFlightAuctions > MAX_COUNT) {
            errs.add(bad("numInFlightAuctions", numInFlightAuctions + " is outside 1.." + MAX_COUNT));
        }
        if (numActivePeople < 1 || numActivePeople > MAX_COUNT) {
            errs.add(bad("numActivePeople", numActivePeople + " is outside 1.." + MAX_COUNT));
        }
        checkSize(errs, "avgPersonByteSize", avgPersonByteSize);
        checkSize(errs, "avgAuctionByteSize", avgAuctionByteSize);
        checkSize(errs, "avgBidByteSize", avgBidByteSize);
        if (errs.isEmpty() && proportionsOK) {
            long ahead = auctionAhead();
            long h = 2 * (ahead * 1000 / eventsPerSecond + 1);
            if (h > MAX_BOUND) {
                errs.add(bad("numInFlightAuctions", "auctions would last up to " + h + " ms, more than the " + MAX_BOUND
                        + " a draw allows at " + eventsPerSecond + " eventsPerSecond; lower numInFlightAuctions or raise eventsPerSecond"));
            }
            long last = events > 0 ? events - 1 : MAX_UNBOUNDED_EVENT;
            if (!timestampFits(firstEventTime, last + ahead, eventsPerSecond)) {
                errs.add(bad("events", "the dateTime of event " + (last + ahead) + " overflows int64 milliseconds (firstEventTime "
                        + firstEventTime + ", eventsPerSecond " + eventsPerSecond + ")"));
            }
        }
        if (!errs.isEmpty()) {
            throw new IllegalArgumentException(String.join("\n", errs));
        }
    }

    /** auctionAhead returns numInFlightAuctions * totalProportion / auctionProportion, the horizon of an auction in events. */
    long auctionAhead() {
        return numInFlightAuctions * totalProportion() / auctionProportion;
    }

    private static String bad(String option, String what) {
        return "nexmark source: option " + option + ": " + what;
    }

    private static void checkRatio(List<String> errs, String name, long v) {
        if (v < 1 || v > MAX_BOUND) {
            errs.add(bad(name, v + " is outside 1.." + MAX_BOUND));
        }
    }

    private static void checkSize(List<String> errs, String name, long v) {
        if (v < 0 || v > MAX_AVG_BYTE_SIZE) {
            errs.add(bad(name, v + " bytes is outside 0.." + MAX_AVG_BYTE_SIZE));
        }
    }

    /** timestampFits reports whether first + floor(n * 1000 / rate) fits a long. */
    static boolean timestampFits(long first, long n, long rate) {
        long q = n / rate;
        if (q > (Long.MAX_VALUE - 1000) / 1000) {
            return false;
        }
        long off = q * 1000 + (n % rate) * 1000 / rate;
        if (first >= 0) {
            return off <= Long.MAX_VALUE - first;
        }
        return true;
    }
}
