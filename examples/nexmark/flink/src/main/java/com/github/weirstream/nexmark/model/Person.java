package com.github.weirstream.nexmark.model;

/** Person is a new user of the auction site (docs/nexmark.md §4.1). It is a Flink POJO. */
public class Person {
    public long id;
    /** dateTime is the event time, in ms since the Unix epoch. */
    public long dateTime;
    public String name;
    public String emailAddress;
    public String creditCard;
    public String city;
    public String state;
    public String extra;

    public Person() {}
}
