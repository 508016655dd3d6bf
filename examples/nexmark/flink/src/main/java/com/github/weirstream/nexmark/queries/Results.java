package com.github.weirstream.nexmark.queries;

import com.github.weirstream.nexmark.model.Bid;
import com.github.weirstream.nexmark.model.ResultLine;

/**
 * Results holds the result records of the queries (q0 and q1 emit {@link Bid}s),
 * each a Flink POJO whose {@link ResultLine#line()} is its canonical line
 * (docs/nexmark.md §8), field for field what Weir's examples/nexmark/results
 * writes.
 */
public final class Results {
    private Results() {}

    /** Q2 is a selected bid. Line: auction,price. */
    public static class Q2 implements ResultLine {
        public long auction;
        public long price;

        public Q2() {}

        public Q2(long auction, long price) {
            this.auction = auction;
            this.price = price;
        }

        @Override
        public String line() {
            return auction + "," + price;
        }
    }

    /** Q3 is a local item suggestion. Line: name,city,state,auctionId. */
    public static class Q3 implements ResultLine {
        public String name;
        public String city;
        public String state;
        public long auctionId;

        public Q3() {}

        public Q3(String name, String city, String state, long auctionId) {
            this.name = name;
            this.city = city;
            this.state = state;
            this.auctionId = auctionId;
        }

        @Override
        public String line() {
            return name + "," + city + "," + state + "," + auctionId;
        }
    }

    /** Q4 is a category's running average winning price after the closes at expires. Line: category,expires,count,sum,average. */
    public static class Q4 implements ResultLine {
        public long category;
        public long expires;
        public long count;
        public long sum;
        public long average;

        public Q4() {}

        public Q4(long category, long expires, long count, long sum) {
            this.category = category;
            this.expires = expires;
            this.count = count;
            this.sum = sum;
            this.average = sum / count;
        }

        @Override
        public String line() {
            return category + "," + expires + "," + count + "," + sum + "," + average;
        }
    }

    /** Q5 is the bid count of an auction in a sliding window. Line: windowStart,windowEnd,auction,count. */
    public static class Q5 implements ResultLine {
        public long windowStart;
        public long windowEnd;
        public long auction;
        public long count;

        public Q5() {}

        public Q5(long windowStart, long windowEnd, long auction, long count) {
            this.windowStart = windowStart;
            this.windowEnd = windowEnd;
            this.auction = auction;
            this.count = count;
        }

        @Override
        public String line() {
            return windowStart + "," + windowEnd + "," + auction + "," + count;
        }
    }

    /** Q7 is a highest bid of the tumbling window at windowStart. Line: windowStart,auction,bidder,price,dateTime,extra. */
    public static class Q7 implements ResultLine {
        public long windowStart;
        public Bid bid;

        public Q7() {}

        public Q7(long windowStart, Bid bid) {
            this.windowStart = windowStart;
            this.bid = bid;
        }

        @Override
        public String line() {
            return windowStart + "," + bid.line();
        }
    }

    /** Q8 is a new user who sold in the window of their registration. Line: id,name,windowStart. */
    public static class Q8 implements ResultLine {
        public long id;
        public String name;
        public long windowStart;

        public Q8() {}

        public Q8(long id, String name, long windowStart) {
            this.id = id;
            this.name = name;
            this.windowStart = windowStart;
        }

        @Override
        public String line() {
            return id + "," + name + "," + windowStart;
        }
    }

    /** Q11 is a bidder's session. Line: bidder,count,start,end. */
    public static class Q11 implements ResultLine {
        public long bidder;
        public long count;
        public long start;
        public long end;

        public Q11() {}

        public Q11(long bidder, long count, long start, long end) {
            this.bidder = bidder;
            this.count = count;
            this.start = start;
            this.end = end;
        }

        @Override
        public String line() {
            return bidder + "," + count + "," + start + "," + end;
        }
    }
}
