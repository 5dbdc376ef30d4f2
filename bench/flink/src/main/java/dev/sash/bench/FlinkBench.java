package dev.sash.bench;

import dev.sash.WindowStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.TimeStampMilliVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;

/**
 * sash's WindowStream against Apache Flink, the engine a user would otherwise
 * pick, on the same rows from memory, one thread each:
 *
 * <ul>
 *   <li>the tumbling case of make bench (bench/data/windows_10m.arrow: 1-minute
 *       windows by 1,000 keys, count/sum/mean/min/max of val): Flink's DataStream
 *       API on a local MiniCluster (parallelism 1, heap state,
 *       bounded-out-of-orderness watermarks, an AggregateFunction) against
 *       WindowStream pushes of 8,192 rows;
 *   <li>Nexmark q5, q7 and q11 on generated bids ({@link Nexmark}).
 * </ul>
 *
 * Flink's time is the job's net runtime as Flink reports it (the MiniCluster's
 * start-up is not counted); sash's is the wall time of the pushes and finish.
 * Both runs' outputs are checked against each other (window count and total
 * row count) before any number is reported. Arguments: repo root, output
 * markdown, rows.
 */
public final class FlinkBench {
    /** Lateness of both engines: Flink's bounded out-of-orderness, sash's "lateness". */
    static final Duration LATENESS = Duration.ofSeconds(1);

    static final String TUMBLING_SPEC = "{\"time\": \"ts\", \"every\": \"1m\", \"by\": \"key\", "
            + "\"aggs\": [\"count() as n\", \"sum(val) as s\", \"mean(val) as m\", \"min(val) as lo\", \"max(val) as hi\"], "
            + "\"lateness\": \"1s\"}";

    /** The rows, for Flink's source to read by index (same JVM: the MiniCluster runs in this process). */
    static long[] TS;
    static int[] KEY;
    static double[] VAL;

    /** One row of the tumbling case. */
    public static final class Event {
        public long ts;
        public int key;
        public double val;

        public Event() {}

        Event(long ts, int key, double val) {
            this.ts = ts;
            this.key = key;
            this.val = val;
        }
    }

    /** count, sum, min, max: the state of one (key, window). */
    public static final class Acc {
        public long count;
        public double sum;
        public double min = Double.POSITIVE_INFINITY;
        public double max = Double.NEGATIVE_INFINITY;
    }

    /** A window's result, as WindowStream emits it (key, start, end, count, sum, mean, min, max). */
    public static final class WindowResult {
        public int key;
        public long start;
        public long end;
        public long count;
        public double sum;
        public double mean;
        public double min;
        public double max;
    }

    static final class Stats implements AggregateFunction<Event, Acc, Acc> {
        @Override
        public Acc createAccumulator() {
            return new Acc();
        }

        @Override
        public Acc add(Event e, Acc a) {
            a.count++;
            a.sum += e.val;
            a.min = Math.min(a.min, e.val);
            a.max = Math.max(a.max, e.val);
            return a;
        }

        @Override
        public Acc getResult(Acc a) {
            return a;
        }

        @Override
        public Acc merge(Acc a, Acc b) {
            a.count += b.count;
            a.sum += b.sum;
            a.min = Math.min(a.min, b.min);
            a.max = Math.max(a.max, b.max);
            return a;
        }
    }

    static final class Emit extends ProcessWindowFunction<Acc, WindowResult, Integer, TimeWindow> {
        @Override
        public void process(Integer key, Context ctx, Iterable<Acc> accs, Collector<WindowResult> out) {
            Acc a = accs.iterator().next();
            WindowResult r = new WindowResult();
            r.key = key;
            r.start = ctx.window().getStart();
            r.end = ctx.window().getEnd();
            r.count = a.count;
            r.sum = a.sum;
            r.mean = a.sum / a.count;
            r.min = a.min;
            r.max = a.max;
            out.collect(r);
        }
    }

    /** Counts what reaches it (results and a checksum), in this JVM. */
    static final AtomicLong SINK_RESULTS = new AtomicLong();
    static final AtomicLong SINK_CHECK = new AtomicLong();

    interface Checked {
        long check();
    }

    static final class CountingSink<T extends Checked> implements Sink<T> {
        @Override
        public SinkWriter<T> createWriter(WriterInitContext context) {
            return new SinkWriter<>() {
                @Override
                public void write(T element, Context context) {
                    SINK_RESULTS.incrementAndGet();
                    SINK_CHECK.addAndGet(element.check());
                }

                @Override
                public void flush(boolean endOfInput) {}

                @Override
                public void close() {}
            };
        }
    }

    static final class CheckedResult implements Checked {
        final long count;

        CheckedResult(long count) {
            this.count = count;
        }

        @Override
        public long check() {
            return count;
        }
    }

    // ---------------------------------------------------------------- data

    static void load(Path file, int rows) throws IOException {
        TS = new long[rows];
        KEY = new int[rows];
        VAL = new double[rows];
        int n = 0;
        try (BufferAllocator allocator = new RootAllocator();
             FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
             ArrowFileReader reader = new ArrowFileReader(channel, allocator)) {
            VectorSchemaRoot root = reader.getVectorSchemaRoot();
            while (n < rows && reader.loadNextBatch()) {
                TimeStampMilliVector ts = (TimeStampMilliVector) root.getVector("ts");
                IntVector key = (IntVector) root.getVector("key");
                Float8Vector val = (Float8Vector) root.getVector("val");
                for (int i = 0; i < root.getRowCount() && n < rows; i++, n++) {
                    TS[n] = ts.get(i);
                    KEY[n] = key.get(i);
                    VAL[n] = val.get(i);
                }
            }
        }
        if (n < rows) throw new IllegalStateException(file + " holds " + n + " rows, fewer than " + rows);
    }

    /** The rows as Arrow batches of {@code batchRows}, built before any timing. */
    static List<VectorSchemaRoot> batches(BufferAllocator allocator, int batchRows) {
        List<VectorSchemaRoot> out = new ArrayList<>();
        for (int start = 0; start < TS.length; start += batchRows) {
            int n = Math.min(batchRows, TS.length - start);
            TimeStampMilliVector ts = new TimeStampMilliVector("ts", allocator);
            IntVector key = new IntVector("key", allocator);
            Float8Vector val = new Float8Vector("val", allocator);
            ts.allocateNew(n);
            key.allocateNew(n);
            val.allocateNew(n);
            for (int i = 0; i < n; i++) {
                ts.set(i, TS[start + i]);
                key.set(i, KEY[start + i]);
                val.set(i, VAL[start + i]);
            }
            ts.setValueCount(n);
            key.setValueCount(n);
            val.setValueCount(n);
            VectorSchemaRoot root = new VectorSchemaRoot(List.of(ts, key, val));
            root.setRowCount(n);
            out.add(root);
        }
        return out;
    }

    // ---------------------------------------------------------------- runs

    record Run(double seconds, long results, long check) {}

    static Run sashTumbling(List<VectorSchemaRoot> batches, BufferAllocator allocator) {
        long results = 0, check = 0;
        long start = System.nanoTime();
        try (WindowStream stream = new WindowStream(TUMBLING_SPEC)) {
            for (VectorSchemaRoot batch : batches) {
                try (VectorSchemaRoot out = stream.push(batch, allocator)) {
                    results += out.getRowCount();
                    check += sumCounts(out);
                }
            }
            try (VectorSchemaRoot out = stream.finish(allocator)) {
                results += out.getRowCount();
                check += sumCounts(out);
            }
        }
        return new Run((System.nanoTime() - start) / 1e9, results, check);
    }

    static long sumCounts(VectorSchemaRoot out) {
        BigIntVector n = (BigIntVector) out.getVector("n");
        long total = 0;
        for (int i = 0; i < out.getRowCount(); i++) total += n.get(i);
        return total;
    }

    static Run flinkTumbling(int rows) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(1);
        env.fromSequence(0, rows - 1)
                .map(i -> new Event(TS[(int) (long) i], KEY[(int) (long) i], VAL[(int) (long) i]))
                .returns(Event.class)
                .assignTimestampsAndWatermarks(WatermarkStrategy.<Event>forBoundedOutOfOrderness(LATENESS)
                        .withTimestampAssigner((e, previous) -> e.ts))
                .keyBy(e -> e.key)
                .window(TumblingEventTimeWindows.of(Duration.ofMinutes(1)))
                .aggregate(new Stats(), new Emit())
                .map(r -> new CheckedResult(r.count))
                .returns(CheckedResult.class)
                .sinkTo(new CountingSink<>());
        SINK_RESULTS.set(0);
        SINK_CHECK.set(0);
        JobExecutionResult result = env.execute("sash-bench tumbling");
        return new Run(result.getNetRuntime() / 1e3, SINK_RESULTS.get(), SINK_CHECK.get());
    }

    static Run best(List<Run> runs) {
        return runs.stream().min((a, b) -> Double.compare(a.seconds(), b.seconds())).orElseThrow();
    }

    static void same(String what, Run sash, Run flink) {
        if (sash.results() != flink.results() || sash.check() != flink.check()) {
            throw new IllegalStateException(what + ": sash emitted " + sash.results() + " results (check " + sash.check()
                    + "), Flink " + flink.results() + " (check " + flink.check() + "): not the same job");
        }
    }

    public static void main(String[] args) throws Exception {
        Path root = Path.of(args[0]);
        Path out = Path.of(args[1]);
        int rows = Integer.parseInt(args[2]);
        // Five runs each, the best kept: the JIT warms up over the first ones, for both engines alike.
        int repeats = args.length > 3 ? Integer.parseInt(args[3]) : 5;
        StringBuilder md = new StringBuilder();
        md.append("# sash against Apache Flink\n\n");
        md.append("`make bench-flink`: one JVM, one thread each; Flink ").append(org.apache.flink.runtime.util.EnvironmentInformation.getVersion())
                .append(" DataStream API on a local MiniCluster (parallelism 1, heap state, bounded-out-of-orderness watermarks of ")
                .append(LATENESS.toSeconds()).append(" s, an AggregateFunction), sash's `WindowStream` from Java (pushes of 8,192 rows, lateness 1 s). ")
                .append("Flink's time is its job's net runtime (MiniCluster start-up not counted); the best of ").append(repeats)
                .append(" runs each. Both engines' outputs are checked to agree before a number is written.\n\n");

        load(root.resolve("bench/data/windows_10m.arrow"), rows);
        List<Run> sashRuns = new ArrayList<>(), flinkRuns = new ArrayList<>();
        try (BufferAllocator allocator = new RootAllocator()) {
            List<VectorSchemaRoot> batches = batches(allocator, 8192);
            for (int r = 0; r < repeats; r++) sashRuns.add(sashTumbling(batches, allocator));
            batches.forEach(VectorSchemaRoot::close);
        }
        for (int r = 0; r < repeats; r++) flinkRuns.add(flinkTumbling(rows));
        Run s = best(sashRuns), f = best(flinkRuns);
        same("tumbling", s, f);
        md.append("| case | rows | windows | Flink rows/s | sash rows/s | sash / Flink | target |\n|---|---|---|---|---|---|---|\n");
        md.append(String.format(Locale.ROOT, "| tumbling (1 min by 1,000 keys; count, sum, mean, min, max) | %,d | %,d | %,.0f | %,.0f | **%.1f×** | ≥ 20× |\n",
                rows, s.results(), rows / f.seconds(), rows / s.seconds(), f.seconds() / s.seconds()));
        TS = null;
        KEY = null;
        VAL = null;

        md.append(Nexmark.run(rows, repeats));
        Files.writeString(out, md.toString());
        System.out.println(md);
    }
}
