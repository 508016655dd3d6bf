package com.github.weirstream.nexmark.model;

/**
 * Event is one generated event: exactly one of person, auction and bid is set.
 * It is a Flink POJO (null fields are allowed), so it is serialized by Flink's
 * PojoSerializer, never by Kryo.
 */
public class Event {
    public Person person;
    public Auction auction;
    public Bid bid;

    public Event() {}

    public static Event of(Person p) {
        Event e = new Event();
        e.person = p;
        return e;
    }

    public static Event of(Auction a) {
        Event e = new Event();
        e.auction = a;
        return e;
    }

    public static Event of(Bid b) {
        Event e = new Event();
        e.bid = b;
        return e;
    }

    /** dateTime returns the event time of whichever event this is. */
    public long dateTime() {
        if (person != null) {
            return person.dateTime;
        }
        if (auction != null) {
            return auction.dateTime;
        }
        return bid.dateTime;
    }
}
