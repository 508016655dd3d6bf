package com.github.weirstream.nexmark.generator;

import com.github.weirstream.nexmark.model.Auction;
import com.github.weirstream.nexmark.model.Bid;
import com.github.weirstream.nexmark.model.Event;
import com.github.weirstream.nexmark.model.Person;
import java.nio.charset.StandardCharsets;

/**
 * Generator makes the Nexmark events of one configuration, bit for bit those of
 * the Go generator (plugins/nexmark, docs/nexmark.md §1-4): event n for any n,
 * without the events before it, each from its own SplitMix64 stream, drawing in
 * the order the spec lists. It is immutable after construction and safe for
 * concurrent use.
 */
public final class Generator {
    static final long FIRST_PERSON_ID = 1000;
    static final long FIRST_AUCTION_ID = 1000;
    static final long FIRST_CATEGORY_ID = 10;
    static final long NUM_CATEGORIES = 5;
    static final long PERSON_ID_LEAD = 10;
    static final long AUCTION_ID_LEAD = 10;
    /** HOT_BLOCK is HOT_SELLER_RATIO = HOT_AUCTION_RATIO = HOT_BIDDER_RATIO. */
    static final long HOT_BLOCK = 100;
    /** POOL_BYTES is the length of the letter pool random strings are cut from. */
    static final int POOL_BYTES = 1 << 16;

    static final String[] FIRST_NAMES = {
        "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"
    };
    static final String[] LAST_NAMES = {"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"};
    static final String[] US_CITIES = {
        "Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"
    };
    static final String[] US_STATES = {"AZ", "CA", "ID", "OR", "WA", "WY"};

    /** Kind is the kind of an event, with its encoding's first byte. */
    public enum Kind {
        PERSON(0x00),
        AUCTION(0x01),
        BID(0x02);

        /** code is the kind byte of the encoding (docs/nexmark.md §5). */
        public final int code;

        Kind(int code) {
            this.code = code;
        }
    }

    private final GeneratorConfig cfg;
    private final long total;
    private final long auctionAhead;
    private final byte[] pool = new byte[POOL_BYTES];

    /** Generator validates cfg (see {@link GeneratorConfig#validate()}) and makes its letter pool. */
    public Generator(GeneratorConfig cfg) {
        cfg.validate();
        this.cfg = cfg.copy();
        this.total = cfg.totalProportion();
        this.auctionAhead = cfg.auctionAhead();
        SplitMix r = new SplitMix(~cfg.seed);
        for (int i = 0; i < POOL_BYTES; i++) {
            pool[i] = (byte) ('a' + r.u(26));
        }
    }

    /** config returns a copy of the generator's configuration. */
    public GeneratorConfig config() {
        return cfg.copy();
    }

    /** timestamp returns ts(n) = firstEventTime + floor(n * 1000 / eventsPerSecond), without overflow. */
    public long timestamp(long n) {
        long r = cfg.eventsPerSecond;
        return cfg.firstEventTime + (n / r) * 1000 + (n % r) * 1000 / r;
    }

    /** kind returns the kind of event n. */
    public Kind kind(long n) {
        long rem = n % total;
        if (rem < cfg.personProportion) {
            return Kind.PERSON;
        }
        if (rem < cfg.personProportion + cfg.auctionProportion) {
            return Kind.AUCTION;
        }
        return Kind.BID;
    }

    /** event returns event n. */
    public Event event(long n) {
        long ts = timestamp(n);
        SplitMix r = SplitMix.eventStream(cfg.seed, n);
        switch (kind(n)) {
            case PERSON:
                return Event.of(person(n, ts, r));
            case AUCTION:
                return Event.of(auction(n, ts, r));
            default:
                return Event.of(bid(n, ts, r));
        }
    }

    long lastBase0PersonId(long n) {
        long epoch = n / total;
        long offset = n % total;
        if (offset >= cfg.personProportion) {
            offset = cfg.personProportion - 1;
        }
        return epoch * cfg.personProportion + offset;
    }

    long lastBase0AuctionId(long n) {
        long epoch = n / total;
        long offset = n % total;
        long p = cfg.personProportion;
        long a = cfg.auctionProportion;
        if (offset < p) {
            epoch--;
            offset = a - 1;
        } else if (offset >= p + a) {
            offset = a - 1;
        } else {
            offset -= p;
        }
        return epoch * a + offset;
    }

    private long nextBase0PersonId(long n, SplitMix r) {
        long numPeople = lastBase0PersonId(n) + 1;
        long active = Math.min(numPeople, cfg.numActivePeople);
        return numPeople - active + r.u(active + PERSON_ID_LEAD);
    }

    private long nextBase0AuctionId(long n, SplitMix r) {
        long maxAuction = lastBase0AuctionId(n);
        long minAuction = Math.max(maxAuction - cfg.numInFlightAuctions, 0);
        return minAuction + r.u(maxAuction - minAuction + 1 + AUCTION_ID_LEAD);
    }

    /** price draws a price in cents, log-uniform per decade in [100, 10^8): two draws. */
    private static long price(SplitMix r) {
        long base = 100;
        for (long k = r.u(6); k > 0; k--) {
            base *= 10;
        }
        return base + r.u(9 * base);
    }

    /** poolString draws a string of length l from the letter pool: one draw. */
    private String poolString(long l, SplitMix r) {
        int o = (int) r.u(POOL_BYTES - l + 1);
        return new String(pool, o, (int) l, StandardCharsets.ISO_8859_1);
    }

    /** extra draws the padding of an event of currentSize bytes towards avgSize: zero to two draws. */
    private String extra(long currentSize, long avgSize, SplitMix r) {
        if (currentSize > avgSize) {
            return "";
        }
        long d = avgSize - currentSize;
        long delta = (d + 2) / 5;
        long size = d - delta;
        if (delta > 0) {
            size += r.u(2 * delta);
        }
        return poolString(size, r);
    }

    private Person person(long n, long ts, SplitMix r) {
        Person p = new Person();
        String first = FIRST_NAMES[(int) r.u(FIRST_NAMES.length)];
        String last = LAST_NAMES[(int) r.u(LAST_NAMES.length)];
        p.name = first + " " + last;
        String local = poolString(3 + r.u(4), r);
        String domain = poolString(3 + r.u(2), r);
        p.emailAddress = local + "@" + domain + ".com";
        char[] cc = new char[19];
        for (int i = 0; i < 4; i++) {
            long v = r.u(10000);
            for (int j = 3; j >= 0; j--) {
                cc[i * 5 + j] = (char) ('0' + v % 10);
                v /= 10;
            }
            if (i < 3) {
                cc[i * 5 + 4] = ' ';
            }
        }
        p.creditCard = new String(cc);
        p.city = US_CITIES[(int) r.u(US_CITIES.length)];
        p.state = US_STATES[(int) r.u(US_STATES.length)];
        long size = 8 + p.name.length() + p.emailAddress.length() + p.creditCard.length() + p.city.length() + p.state.length();
        p.extra = extra(size, cfg.avgPersonByteSize, r);
        p.id = lastBase0PersonId(n) + FIRST_PERSON_ID;
        p.dateTime = ts;
        return p;
    }

    private Auction auction(long n, long ts, SplitMix r) {
        Auction a = new Auction();
        long seller;
        if (r.u(cfg.hotSellersRatio) > 0) {
            seller = (lastBase0PersonId(n) / HOT_BLOCK) * HOT_BLOCK;
        } else {
            seller = nextBase0PersonId(n, r);
        }
        a.seller = seller + FIRST_PERSON_ID;
        a.category = FIRST_CATEGORY_ID + r.u(NUM_CATEGORIES);
        a.initialBid = price(r);
        long horizon = timestamp(n + auctionAhead) - ts;
        a.expires = ts + 1 + r.u(Math.max(2 * horizon, 1));
        a.itemName = poolString(3 + r.u(17), r);
        a.description = poolString(3 + r.u(97), r);
        a.reserve = a.initialBid + price(r);
        a.extra = extra(8 + a.itemName.length() + a.description.length() + 40, cfg.avgAuctionByteSize, r);
        a.id = lastBase0AuctionId(n) + FIRST_AUCTION_ID;
        a.dateTime = ts;
        return a;
    }

    private Bid bid(long n, long ts, SplitMix r) {
        Bid b = new Bid();
        long auction;
        if (r.u(cfg.hotAuctionRatio) > 0) {
            auction = (lastBase0AuctionId(n) / HOT_BLOCK) * HOT_BLOCK;
        } else {
            auction = nextBase0AuctionId(n, r);
        }
        long bidder;
        if (r.u(cfg.hotBiddersRatio) > 0) {
            bidder = (lastBase0PersonId(n) / HOT_BLOCK) * HOT_BLOCK + 1;
        } else {
            bidder = nextBase0PersonId(n, r);
        }
        b.auction = auction + FIRST_AUCTION_ID;
        b.bidder = bidder + FIRST_PERSON_ID;
        b.price = price(r);
        b.extra = extra(32, cfg.avgBidByteSize, r);
        b.dateTime = ts;
        return b;
    }
}
