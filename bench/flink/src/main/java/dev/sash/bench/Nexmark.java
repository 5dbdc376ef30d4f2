package dev.sash.bench;

import dev.sash.WindowStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.TimeStampMilliVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.windowing.ProcessAllWindowFunction;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.EventTimeSessionWindows;
import org.apache.flink.streaming.api.windowing.assigners.SlidingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;

/**
 * Nexmark's bid stream and queries q5 (hot items), q7 (highest bid) and q11
 * (user sessions), on sash's WindowStream and on Flink's DataStream API, over
 * the same generated bids.
 *
 * <p>The generator follows Nexmark's model (the Beam/Flink Nexmark
 * generator's): events numbered 0, 1, ...; of every 50, 1 is a person, 3 are
 * auctions and 46 are bids; a bid goes to a hot auction (the newest multiple of
 * 100) half the time, else to one of the ~100 auctions in flight; its bidder is
 * a hot one (a multiple of 100) three times in four, else one of the ~1,000
 * active people; its price is log-uniform, {@code round(10^(6u) * 100)}; event
 * time comes from the event number at 10,000 events per second. Only the bids
 * are materialized (no query here reads persons or auctions), so rates are bids
 * per second.
 */
final class Nexmark {
    static final int TOTAL = 50, PERSONS = 1, AUCTIONS = 3;
    static final long FIRST_ID = 1000, HOT_RATIO = 100, IN_FLIGHT_AUCTIONS = 100, ACTIVE_PEOPLE = 1000, ID_LEAD = 10;
    static final long BASE_TIME_MS = 1_700_000_000_000L;
    static final Duration LATENESS = FlinkBench.LATENESS;

    static long[] TS, AUCTION, BIDDER, PRICE;

    static long lastAuction(long event) {
        long epoch = event / TOTAL, offset = event % TOTAL;
        if (offset < PERSONS) {
            epoch--;
            offset = AUCTIONS - 1;
        } else if (offset >= PERSONS + AUCTIONS) {
            offset = AUCTIONS - 1;
        } else {
            offset -= PERSONS;
        }
        return epoch * AUCTIONS + offset;
    }

    static long lastPerson(long event) {
        long epoch = event / TOTAL, offset = Math.min(event % TOTAL, PERSONS - 1);
        return epoch * PERSONS + offset;
    }

    /** The bids among events [0, events). */
    static void generate(long events) {
        SplittableRandom random = new SplittableRandom(42);
        int bids = 0;
        for (long e = 0; e < events; e++) if (e % TOTAL >= PERSONS + AUCTIONS) bids++;
        TS = new long[bids];
        AUCTION = new long[bids];
        BIDDER = new long[bids];
        PRICE = new long[bids];
        int b = 0;
        for (long e = 0; e < events; e++) {
            if (e % TOTAL < PERSONS + AUCTIONS) continue;
            long auction;
            if (random.nextInt(2) > 0) {
                auction = lastAuction(e) / HOT_RATIO * HOT_RATIO;
            } else {
                long max = lastAuction(e), min = Math.max(max - IN_FLIGHT_AUCTIONS, 0);
                auction = min + random.nextLong(max - min + 1 + ID_LEAD);
            }
            long bidder;
            if (random.nextInt(4) > 0) {
                bidder = lastPerson(e) / HOT_RATIO * HOT_RATIO + 1;
            } else {
                long people = lastPerson(e) + 1, active = Math.min(people, ACTIVE_PEOPLE);
                bidder = people - active + random.nextLong(active + ID_LEAD);
            }
            TS[b] = BASE_TIME_MS + e / 10; // 10,000 events per second
            AUCTION[b] = auction + FIRST_ID;
            BIDDER[b] = bidder + FIRST_ID;
            PRICE[b] = Math.round(Math.pow(10.0, random.nextDouble() * 6.0) * 100.0);
            b++;
        }
    }

    static List<VectorSchemaRoot> batches(BufferAllocator allocator, int batchRows) {
        List<VectorSchemaRoot> out = new ArrayList<>();
        for (int start = 0; start < TS.length; start += batchRows) {
            int n = Math.min(batchRows, TS.length - start);
            TimeStampMilliVector ts = new TimeStampMilliVector("date_time", allocator);
            BigIntVector auction = new BigIntVector("auction", allocator);
            BigIntVector bidder = new BigIntVector("bidder", allocator);
            BigIntVector price = new BigIntVector("price", allocator);
            for (var v : List.of(auction, bidder, price)) v.allocateNew(n);
            ts.allocateNew(n);
            for (int i = 0; i < n; i++) {
                ts.set(i, TS[start + i]);
                auction.set(i, AUCTION[start + i]);
                bidder.set(i, BIDDER[start + i]);
                price.set(i, PRICE[start + i]);
            }
            for (var v : List.of(ts, auction, bidder, price)) v.setValueCount(n);
            VectorSchemaRoot root = new VectorSchemaRoot(List.of(ts, auction, bidder, price));
            root.setRowCount(n);
            out.add(root);
        }
        return out;
    }

    /** One bid. */
    public static final class Bid {
        public long dateTime;
        public long auction;
        public long bidder;
        public long price;

        public Bid() {}

        Bid(int i) {
            dateTime = TS[i];
            auction = AUCTION[i];
            bidder = BIDDER[i];
            price = PRICE[i];
        }
    }

    /** A query's result rows, and a checksum both engines must agree on. */
    public static final class Out implements FlinkBench.Checked {
        public long value;

        public Out() {}

        Out(long value) {
            this.value = value;
        }

        @Override
        public long check() {
            return value;
        }
    }

    static DataStream<Bid> bids(StreamExecutionEnvironment env) {
        return env.fromSequence(0, TS.length - 1)
                .map(i -> new Bid((int) (long) i))
                .returns(Bid.class)
                .assignTimestampsAndWatermarks(WatermarkStrategy.<Bid>forBoundedOutOfOrderness(LATENESS)
                        .withTimestampAssigner((bid, previous) -> bid.dateTime));
    }

    static final class Count<T> implements AggregateFunction<T, long[], Long> {
        @Override
        public long[] createAccumulator() {
            return new long[1];
        }

        @Override
        public long[] add(T value, long[] acc) {
            acc[0]++;
            return acc;
        }

        @Override
        public Long getResult(long[] acc) {
            return acc[0];
        }

        @Override
        public long[] merge(long[] a, long[] b) {
            a[0] += b[0];
            return a;
        }
    }

    /** (auction, count, window end) of q5's first stage. */
    public static final class AuctionCount {
        public long auction;
        public long count;
        public long end;
    }

    // ------------------------------------------------------------- Flink

    static FlinkBench.Run flink(String query) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1);
        DataStream<Bid> bids = bids(env);
        DataStream<Out> out = switch (query) {
            // Hot items: per 10 s window sliding by 2 s, the auctions with the most bids.
            case "q5" -> bids.keyBy(b -> b.auction)
                    .window(SlidingEventTimeWindows.of(Duration.ofSeconds(10), Duration.ofSeconds(2)))
                    .aggregate(new Count<>(), new ProcessWindowFunction<Long, AuctionCount, Long, TimeWindow>() {
                        @Override
                        public void process(Long auction, Context ctx, Iterable<Long> counts, Collector<AuctionCount> collector) {
                            AuctionCount r = new AuctionCount();
                            r.auction = auction;
                            r.count = counts.iterator().next();
                            r.end = ctx.window().getEnd();
                            collector.collect(r);
                        }
                    })
                    .windowAll(TumblingEventTimeWindows.of(Duration.ofSeconds(2)))
                    .process(new ProcessAllWindowFunction<AuctionCount, Out, TimeWindow>() {
                        @Override
                        public void process(Context ctx, Iterable<AuctionCount> rows, Collector<Out> collector) {
                            long max = 0;
                            for (AuctionCount r : rows) max = Math.max(max, r.count);
                            for (AuctionCount r : rows) if (r.count == max) collector.collect(new Out(r.count));
                        }
                    });
            // Highest bid: per 10 s tumbling window, the highest price.
            case "q7" -> bids.windowAll(TumblingEventTimeWindows.of(Duration.ofSeconds(10)))
                    .aggregate(new AggregateFunction<Bid, long[], Long>() {
                        @Override
                        public long[] createAccumulator() {
                            return new long[] {Long.MIN_VALUE};
                        }

                        @Override
                        public long[] add(Bid b, long[] acc) {
                            acc[0] = Math.max(acc[0], b.price);
                            return acc;
                        }

                        @Override
                        public Long getResult(long[] acc) {
                            return acc[0];
                        }

                        @Override
                        public long[] merge(long[] a, long[] b) {
                            a[0] = Math.max(a[0], b[0]);
                            return a;
                        }
                    })
                    .map(Out::new)
                    .returns(Out.class);
            // User sessions: bids per bidder session, 10 s gap.
            case "q11" -> bids.keyBy(b -> b.bidder)
                    .window(EventTimeSessionWindows.withGap(Duration.ofSeconds(10)))
                    .aggregate(new Count<>())
                    .map(Out::new)
                    .returns(Out.class);
            default -> throw new IllegalArgumentException(query);
        };
        out.sinkTo(new FlinkBench.CountingSink<>());
        FlinkBench.SINK_RESULTS.set(0);
        FlinkBench.SINK_CHECK.set(0);
        JobExecutionResult result = env.execute("sash-bench nexmark " + query);
        return new FlinkBench.Run(result.getNetRuntime() / 1e3, FlinkBench.SINK_RESULTS.get(), FlinkBench.SINK_CHECK.get());
    }

    // ------------------------------------------------------------- sash

    static String spec(String query) {
        String lateness = ", \"lateness\": \"" + LATENESS.toSeconds() + "s\"}";
        return switch (query) {
            case "q5" -> "{\"time\": \"date_time\", \"every\": \"2s\", \"period\": \"10s\", \"by\": \"auction\", \"aggs\": [\"count() as n\"]" + lateness;
            case "q7" -> "{\"time\": \"date_time\", \"every\": \"10s\", \"aggs\": [\"max(price) as price\", "
                    + "\"max_by(auction, price) as auction\", \"max_by(bidder, price) as bidder\"]" + lateness;
            case "q11" -> "{\"time\": \"date_time\", \"session_gap\": \"10s\", \"by\": \"bidder\", \"aggs\": [\"count() as n\"]" + lateness;
            default -> throw new IllegalArgumentException(query);
        };
    }

    /** Adds an emission's result rows and checksum to {@code acc} ([results, check]). */
    static void collect(String query, VectorSchemaRoot out, long[] acc) {
        int rows = out.getRowCount();
        switch (query) {
            case "q5" -> {
                // The second stage: per window (rows of one window are together, by
                // window_start then key), the auctions with the most bids.
                TimeStampMilliVector start = (TimeStampMilliVector) out.getVector("window_start");
                BigIntVector n = (BigIntVector) out.getVector("n");
                int i = 0;
                while (i < rows) {
                    int j = i;
                    long max = 0;
                    while (j < rows && start.get(j) == start.get(i)) max = Math.max(max, n.get(j++));
                    for (int k = i; k < j; k++) {
                        if (n.get(k) == max) {
                            acc[0]++;
                            acc[1] += max;
                        }
                    }
                    i = j;
                }
            }
            case "q7" -> {
                BigIntVector price = (BigIntVector) out.getVector("price");
                for (int i = 0; i < rows; i++) {
                    acc[0]++;
                    acc[1] += price.get(i);
                }
            }
            case "q11" -> {
                BigIntVector n = (BigIntVector) out.getVector("n");
                for (int i = 0; i < rows; i++) {
                    acc[0]++;
                    acc[1] += n.get(i);
                }
            }
            default -> throw new IllegalArgumentException(query);
        }
    }

    static FlinkBench.Run sash(String query, List<VectorSchemaRoot> batches, BufferAllocator allocator) {
        long[] acc = new long[2];
        long start = System.nanoTime();
        try (WindowStream stream = new WindowStream(spec(query))) {
            for (VectorSchemaRoot batch : batches) {
                try (VectorSchemaRoot out = stream.push(batch, allocator)) {
                    collect(query, out, acc);
                }
            }
            try (VectorSchemaRoot out = stream.finish(allocator)) {
                collect(query, out, acc);
            }
        }
        return new FlinkBench.Run((System.nanoTime() - start) / 1e9, acc[0], acc[1]);
    }

    static String run(long events, int repeats) throws Exception {
        generate(events);
        StringBuilder md = new StringBuilder();
        md.append(String.format(Locale.ROOT, "%n## Nexmark%n%n%,d events generated (%,d bids, %.0f s of event time); rates are bids per second.%n%n",
                events, TS.length, (TS[TS.length - 1] - TS[0]) / 1e3));
        md.append("| query | results | Flink bids/s | sash bids/s | sash / Flink |\n|---|---|---|---|---|\n");
        String[][] queries = {
            {"q5", "hot items (hopping 10 s / 2 s, count by auction, the top auctions per window)"},
            {"q7", "highest bid (tumbling 10 s, max price)"},
            {"q11", "user sessions (10 s gap by bidder, count)"},
        };
        for (String[] q : queries) {
            List<FlinkBench.Run> sashRuns = new ArrayList<>(), flinkRuns = new ArrayList<>();
            try (BufferAllocator allocator = new RootAllocator()) {
                List<VectorSchemaRoot> batches = batches(allocator, 8192);
                for (int r = 0; r < repeats; r++) sashRuns.add(sash(q[0], batches, allocator));
                batches.forEach(VectorSchemaRoot::close);
            }
            for (int r = 0; r < repeats; r++) flinkRuns.add(flink(q[0]));
            FlinkBench.Run s = FlinkBench.best(sashRuns), f = FlinkBench.best(flinkRuns);
            FlinkBench.same("nexmark " + q[0], s, f);
            md.append(String.format(Locale.ROOT, "| %s: %s | %,d | %,.0f | %,.0f | **%.1f×** |%n",
                    q[0], q[1], s.results(), TS.length / f.seconds(), TS.length / s.seconds(), f.seconds() / s.seconds()));
        }
        return md.toString();
    }
}
