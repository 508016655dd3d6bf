package com.github.weirstream.nexmark.model;

/**
 * Bid is a bid on an auction (docs/nexmark.md §4.3). It is a Flink POJO, and the
 * result of q0 and q1, whose canonical line is {@code auction,bidder,price,dateTime,extra}.
 */
public class Bid implements ResultLine {
    /** auction is an Auction id. */
    public long auction;
    /** bidder is a Person id. */
    public long bidder;
    /** price is in cents. */
    public long price;
    /** dateTime is the event time, in ms since the Unix epoch. */
    public long dateTime;
    public String extra;

    public Bid() {}

    /** withPrice returns a copy of this bid with another price. */
    public Bid withPrice(long newPrice) {
        Bid b = new Bid();
        b.auction = auction;
        b.bidder = bidder;
        b.price = newPrice;
        b.dateTime = dateTime;
        b.extra = extra;
        return b;
    }

    @Override
    public String line() {
        return auction + "," + bidder + "," + price + "," + dateTime + "," + extra;
    }
}
