package com.github.weirstream.nexmark.queries;

import com.github.weirstream.nexmark.model.Event;
import java.time.Duration;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.EventTimeSessionWindows;
import org.apache.flink.streaming.api.windowing.triggers.Trigger;
import org.apache.flink.streaming.api.windowing.triggers.TriggerResult;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;

/**
 * Q11 is user sessions: per bidder, the sessions of bids each less than 10 s
 * after the previous one (a bid exactly 10 s after starts a new session); each
 * session's bid count, start (its first bid) and end (its last bid + 10 s),
 * emitted when the watermark passes end - 1.
 *
 * <p>NB: Flink's session windows merge windows [t, t + gap) that only touch, so
 * a gap of 9999 ms gives exactly these sessions (windows of bids 9999 ms apart
 * touch, of bids 10000 ms apart do not), with a window end of the last bid +
 * 9999. Flink's default trigger fires at the window end - 1, before a bid at
 * the window end (which joins the session) must have arrived; {@link AtEnd}
 * fires at the window end instead, when every bid that can join has arrived,
 * and an allowed lateness of 1 ms keeps the window's state until then.
 */
final class Q11 {
    /** GAP_MILLIS is the Flink session gap that gives the spec's sessions: 10 s - 1 ms. */
    static final long GAP_MILLIS = Queries.WINDOW_MILLIS - 1;

    private Q11() {}

    static DataStream<Results.Q11> build(DataStream<Event> events) {
        return Queries.bids(events)
                .keyBy(b -> b.bidder, Types.LONG)
                .window(EventTimeSessionWindows.withGap(Duration.ofMillis(GAP_MILLIS)))
                .trigger(new AtEnd())
                .allowedLateness(Duration.ofMillis(1))
                .aggregate(new CountBids(), new Session(), Types.LONG, Types.LONG, Types.POJO(Results.Q11.class)).name("q11");
    }

    /** AtEnd fires a session window once, when the watermark reaches the window's end. */
    static final class AtEnd extends Trigger<Object, TimeWindow> {
        @Override
        public TriggerResult onElement(Object element, long timestamp, TimeWindow w, TriggerContext ctx) {
            ctx.registerEventTimeTimer(w.getEnd());
            return TriggerResult.CONTINUE;
        }

        @Override
        public TriggerResult onEventTime(long time, TimeWindow w, TriggerContext ctx) {
            return time == w.getEnd() ? TriggerResult.FIRE : TriggerResult.CONTINUE;
        }

        @Override
        public TriggerResult onProcessingTime(long time, TimeWindow w, TriggerContext ctx) {
            return TriggerResult.CONTINUE;
        }

        @Override
        public boolean canMerge() {
            return true;
        }

        @Override
        public void onMerge(TimeWindow w, OnMergeContext ctx) {
            ctx.registerEventTimeTimer(w.getEnd());
        }

        @Override
        public void clear(TimeWindow w, TriggerContext ctx) {
            ctx.deleteEventTimeTimer(w.getEnd());
        }
    }

    /** Session labels a session's count with its bidder, start and end (the window end + 1 ms). */
    static final class Session extends ProcessWindowFunction<Long, Results.Q11, Long, TimeWindow> {
        @Override
        public void process(Long bidder, Context ctx, Iterable<Long> counts, Collector<Results.Q11> out) {
            TimeWindow w = ctx.window();
            for (long n : counts) {
                out.collect(new Results.Q11(bidder, n, w.getStart(), w.getEnd() + 1));
            }
        }
    }
}
