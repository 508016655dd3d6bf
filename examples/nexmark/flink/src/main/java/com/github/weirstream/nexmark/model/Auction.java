package com.github.weirstream.nexmark.model;

/** Auction is a new auction (docs/nexmark.md §4.2). It is a Flink POJO. */
public class Auction {
    public long id;
    public long initialBid;
    public long reserve;
    /** dateTime is the event time, in ms since the Unix epoch. */
    public long dateTime;
    /** expires is when the auction closes, in ms since the Unix epoch. */
    public long expires;
    /** seller is a Person id. */
    public long seller;
    public long category;
    public String itemName;
    public String description;
    public String extra;

    public Auction() {}
}
