package com.github.weirstream.nexmark.generator;

import com.github.weirstream.nexmark.model.Auction;
import com.github.weirstream.nexmark.model.Bid;
import com.github.weirstream.nexmark.model.Event;
import com.github.weirstream.nexmark.model.Person;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * EventCodec writes an event in the binary encoding of docs/nexmark.md §5 (the
 * record value Weir's source emits): a kind byte, i64 little-endian integers,
 * and strings as a u16 little-endian length and their bytes. The Flink job does
 * not need it; the test vectors (§7) check the generator through it.
 */
public final class EventCodec {
    /** MAX_STRING_BYTES is the longest string field: its length is a u16. */
    public static final int MAX_STRING_BYTES = 0xFFFF;

    private EventCodec() {}

    /** encode returns the encoding of e; it throws IllegalArgumentException for a string longer than MAX_STRING_BYTES. */
    public static byte[] encode(Event e) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(128);
        if (e.person != null) {
            Person p = e.person;
            out.write(Generator.Kind.PERSON.code);
            i64(out, p.id);
            i64(out, p.dateTime);
            str(out, p.name);
            str(out, p.emailAddress);
            str(out, p.creditCard);
            str(out, p.city);
            str(out, p.state);
            str(out, p.extra);
        } else if (e.auction != null) {
            Auction a = e.auction;
            out.write(Generator.Kind.AUCTION.code);
            i64(out, a.id);
            i64(out, a.initialBid);
            i64(out, a.reserve);
            i64(out, a.dateTime);
            i64(out, a.expires);
            i64(out, a.seller);
            i64(out, a.category);
            str(out, a.itemName);
            str(out, a.description);
            str(out, a.extra);
        } else {
            Bid b = e.bid;
            out.write(Generator.Kind.BID.code);
            i64(out, b.auction);
            i64(out, b.bidder);
            i64(out, b.price);
            i64(out, b.dateTime);
            str(out, b.extra);
        }
        return out.toByteArray();
    }

    private static void i64(ByteArrayOutputStream out, long v) {
        for (int i = 0; i < 8; i++) {
            out.write((int) (v >>> (8 * i)));
        }
    }

    private static void str(ByteArrayOutputStream out, String s) {
        byte[] b = s.getBytes(StandardCharsets.ISO_8859_1);
        if (b.length > MAX_STRING_BYTES) {
            throw new IllegalArgumentException("nexmark event: string of " + b.length + " bytes is longer than " + MAX_STRING_BYTES);
        }
        out.write(b.length);
        out.write(b.length >>> 8);
        out.write(b, 0, b.length);
    }
}
