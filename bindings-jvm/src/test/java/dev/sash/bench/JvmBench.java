package dev.sash.bench;

import static org.apache.spark.sql.functions.avg;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.regexp_extract;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.try_to_timestamp;
import static org.apache.spark.sql.functions.window;

import dev.sash.NativeLib;
import dev.sash.ParseSpec;
import dev.sash.Sash;
import dev.sash.WindowSpec;
import dev.sash.spark.SashSpark;
import dev.sash.spark.StageProbe;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import org.apache.arrow.c.ArrowArray;
import org.apache.arrow.c.ArrowSchema;
import org.apache.arrow.c.Data;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.TimeStampMicroTZVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The JVM benchmarks of issue #6, in one run:
 *
 * <ol>
 *   <li>JNI overhead: {@code Sash.windowAgg} on 10M rows (export, JNI call,
 *       import) against the kernel alone on the same batch in the same process.
 *   <li>Spark local[2], 10M rows: {@code SashSpark.windowAgg} against Spark's
 *       {@code groupBy(window(...)).agg(...)}, end to end from a cached
 *       DataFrame to a no-op sink.
 *   <li>Spark local[2]: {@code SashSpark.parse} of the combined access log
 *       against {@code regexp_extract} with casts.
 * </ol>
 *
 * Usage: {@code JvmBench <repo root> <report.md> [rows]}. Prints and writes a
 * Markdown report; times are the best of several runs.
 */
public final class JvmBench {
    private JvmBench() {}

    static final String AGGS_SPEC_NOTE = "count, sum, mean, min, max of one float column, by a 1,000-value int64 key, 1-minute tumbling windows";

    public static void main(String[] args) throws Exception {
        Path root = Path.of(args[0]);
        Path report = Path.of(args[1]);
        int rows = args.length > 2 ? Integer.parseInt(args[2]) : 10_000_000;
        List<String> lines = new ArrayList<>();
        lines.add("# JVM benchmarks (issue #6)");
        lines.add("");
        lines.add("`make bench-jvm`; " + rows + " rows; " + Runtime.getRuntime().availableProcessors() + " cores; "
                + System.getProperty("java.vm.name") + " " + System.getProperty("java.version") + "; best of the runs.");
        lines.add("");
        jniOverhead(rows, lines);
        spark(root, rows, lines);
        String text = String.join("\n", lines) + "\n";
        System.out.print(text);
        Files.writeString(report, text);
    }

    static VectorSchemaRoot events(BufferAllocator allocator, int rows) {
        Random random = new Random(42);
        TimeStampMicroTZVector ts = new TimeStampMicroTZVector("ts", allocator, "UTC");
        BigIntVector key = new BigIntVector("key", allocator);
        Float8Vector value = new Float8Vector("value", allocator);
        ts.allocateNew(rows);
        key.allocateNew(rows);
        value.allocateNew(rows);
        long base = 1_700_000_000_000_000L;
        for (int i = 0; i < rows; i++) {
            // Sorted times a few ms apart over ~1 day, as a log or event stream delivers them.
            ts.set(i, base + (long) i * 8_640L + random.nextInt(1_000));
            key.set(i, random.nextInt(1_000));
            value.set(i, random.nextDouble() * 100);
        }
        VectorSchemaRoot root = VectorSchemaRoot.of(ts, key, value);
        root.setRowCount(rows);
        return root;
    }

    static final WindowSpec SPEC = WindowSpec.tumbling("ts", "1m").by("key")
            .aggs("count() as n", "sum(value) as s", "mean(value) as m", "min(value) as lo", "max(value) as hi").build();

    static void jniOverhead(int rows, List<String> out) {
        try (BufferAllocator allocator = new RootAllocator(); VectorSchemaRoot input = events(allocator, rows)) {
            // A long-running JVM (a Spark executor) has the export and import code compiled: warm it up on a small batch.
            try (VectorSchemaRoot small = events(allocator, 1_000)) {
                for (int i = 0; i < 5_000; i++) {
                    Sash.windowAgg(small, SPEC, allocator).close();
                }
            }
            long[] full = new long[16];
            long[] kernel = new long[16];
            for (int run = 0; run < full.length; run++) {
                long start = System.nanoTime();
                try (VectorSchemaRoot result = Sash.windowAgg(input, SPEC, allocator)) {
                    full[run] = System.nanoTime() - start;
                    if (result.getRowCount() == 0) throw new IllegalStateException("empty result");
                }
                try (ArrowArray array = ArrowArray.allocateNew(allocator); ArrowSchema schema = ArrowSchema.allocateNew(allocator)) {
                    Data.exportVectorSchemaRoot(allocator, input, null, array, schema);
                    kernel[run] = NativeLib.benchWindowAggNanos(array.memoryAddress(), schema.memoryAddress(), SPEC.toJson());
                }
            }
            // The first run warms the allocator up on the big batch.
            long bestFull = Arrays.stream(full).skip(1).min().orElseThrow();
            long bestKernel = Arrays.stream(kernel).skip(1).min().orElseThrow();
            double medianFull = median(Arrays.copyOfRange(full, 1, full.length));
            double medianKernel = median(Arrays.copyOfRange(kernel, 1, kernel.length));
            // Each full call over the kernel-alone run right after it: the machine's drift cancels out.
            double[] paired = new double[full.length - 1];
            for (int i = 1; i < full.length; i++) paired[i - 1] = (double) full[i] / kernel[i];
            Arrays.sort(paired);
            double pairedMedian = paired[paired.length / 2];
            out.add("## JNI overhead: `Sash.windowAgg` vs the kernel alone (target: at most 5%)");
            out.add("");
            out.add(AGGS_SPEC_NOTE + ".");
            out.add("");
            out.add("| | best ms | median ms | rows/s (best) |");
            out.add("|---|---:|---:|---:|");
            out.add(String.format("| kernel alone (same process, same batch) | %.1f | %.1f | %.1fM |", bestKernel / 1e6, medianKernel / 1e6, rows / (bestKernel / 1e9) / 1e6));
            out.add(String.format("| `Sash.windowAgg` (export + JNI + kernel + import) | %.1f | %.1f | %.1fM |", bestFull / 1e6, medianFull / 1e6, rows / (bestFull / 1e9) / 1e6));
            out.add(String.format("| **overhead** | **%+.1f%%** | **%+.1f%%** | |", 100.0 * (bestFull - bestKernel) / bestKernel, 100.0 * (medianFull - medianKernel) / medianKernel));
            out.add("");
            out.add(String.format("Median of the %d paired ratios (each full call over the kernel-alone run right after it): **%+.1f%%**.", paired.length, 100.0 * (pairedMedian - 1)));
            out.add("");
        }
    }

    static double median(long[] values) {
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
    }

    static double bestSeconds(int runs, Runnable job) {
        double best = Double.MAX_VALUE;
        for (int i = 0; i < runs; i++) {
            long start = System.nanoTime();
            job.run();
            best = Math.min(best, (System.nanoTime() - start) / 1e9);
        }
        return best;
    }

    static void noop(Dataset<Row> data) {
        data.write().format("noop").mode("overwrite").save();
    }

    static void spark(Path root, int rows, List<String> out) throws java.io.IOException {
        SparkSession spark = SparkSession.builder().master("local[2]").appName("sash-bench")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.memory", "8g")
                .getOrCreate();
        try {
            // Where Spark jobs read their data from: Parquet (column batches for both sides).
            Path parquet = Files.createTempDirectory("sash-bench").resolve("events.parquet");
            spark.range(rows)
                    .select(expr("timestamp_micros(1700000000000000 + id * 8640 + cast(rand(1) * 1000 as bigint))").as("ts"),
                            expr("cast(rand(2) * 1000 as bigint)").as("key"),
                            expr("rand(3) * 100").as("value"))
                    .write().parquet(parquet.toString());
            Dataset<Row> events = spark.read().parquet(parquet.toString());
            Supplier<Dataset<Row>> theirs = () -> events.groupBy(col("key"), window(col("ts"), "1 minute"))
                    .agg(count(lit(1)).as("n"), sum(col("value")).as("s"), avg(col("value")).as("m"),
                            min(col("value")).as("lo"), max(col("value")).as("hi"));
            Supplier<Dataset<Row>> ours = () -> SashSpark.windowAgg(events, SPEC);
            if (theirs.get().count() != ours.get().count()) throw new IllegalStateException("the two window results differ in size");
            double spark1 = bestSeconds(5, () -> noop(theirs.get()));
            double sash1 = bestSeconds(5, () -> noop(ours.get()));
            // After both queries, which warm the scan's code: timed first, it took twice as long.
            double scan = bestSeconds(3, () -> noop(events));
            // The steps of SashSpark's plan on their own: how much of the 3x budget is left once Spark has scanned.
            if (StageProbe.scanIntoArrow(events) != rows) throw new IllegalStateException("the scan into Arrow lost rows");
            double intoArrow = bestSeconds(3, () -> StageProbe.scanIntoArrow(events));
            double stepOne = bestSeconds(3, () -> noop(StageProbe.partials(events, SPEC)));
            out.add("## Spark local[2]: `SashSpark.windowAgg` vs `groupBy(window(...)).agg(...)` (target: at least 3x)");
            out.add("");
            out.add(rows + " rows in a Parquet file (2 partitions); " + AGGS_SPEC_NOTE + " (1.44M result rows); each side from the file to a no-op sink.");
            out.add("");
            out.add("| | best s | rows/s |");
            out.add("|---|---:|---:|");
            out.add(String.format("| Spark `groupBy(window(ts, '1 minute'), key).agg(...)` | %.2f | %.1fM |", spark1, rows / spark1 / 1e6));
            out.add(String.format("| `SashSpark.windowAgg` | %.2f | %.1fM |", sash1, rows / sash1 / 1e6));
            out.add(String.format("| **speed-up** | **%.2fx** | |", spark1 / sash1));
            out.add(String.format("| (reading the Parquet file alone, for scale) | %.2f | %.1fM |", scan, rows / scan / 1e6));
            out.add(String.format("| (SashSpark's first step without the kernel: Spark's scan into Arrow batches) | %.2f | %.1fM |", intoArrow, rows / intoArrow / 1e6));
            out.add(String.format("| (SashSpark's first step: the scan into Arrow and the kernel's partial aggregates, no shuffle or merge) | %.2f | %.1fM |", stepOne, rows / stepOne / 1e6));
            out.add("");
            out.add(String.format("3x Spark leaves %.2f s end to end. A SashSpark plan takes its rows from Spark's scan of the Dataset: that scan into "
                    + "Arrow takes %.2f s (%.0f%% of the budget) before the kernel runs, and the first step, kernel included, %.2f s "
                    + "(%.0f%%), before any partials are shuffled and merged.", spark1 / 3, intoArrow, 100 * intoArrow / (spark1 / 3), stepOne,
                    100 * stepOne / (spark1 / 3)));
            out.add("");

            // The real combined log, repeated to 1M lines.
            List<String> log = Files.readAllLines(root.resolve("tests/data/logs/apache_combined_10k.log"));
            List<String> many = new ArrayList<>();
            while (many.size() < 500_000) many.addAll(log);
            Dataset<Row> text = spark.createDataset(many, org.apache.spark.sql.Encoders.STRING()).toDF("value").repartition(2).cache();
            long lineCount = text.count();
            String re = "^(\\S+) (\\S+) (\\S+) \\[([^\\]]+)\\] \"(\\S+) (\\S+) (\\S+)\" (\\d{3}) (\\S+) \"((?:[^\"\\\\]|\\\\.)*)\" \"((?:[^\"\\\\]|\\\\.)*)\"";
            Column v = col("value");
            Supplier<Dataset<Row>> regex = () -> text.select(
                    regexp_extract(v, re, 1).as("host"), regexp_extract(v, re, 2).as("ident"), regexp_extract(v, re, 3).as("user"),
                    try_to_timestamp(regexp_extract(v, re, 4), lit("dd/MMM/yyyy:HH:mm:ss Z")).as("timestamp"),
                    regexp_extract(v, re, 5).as("method"), regexp_extract(v, re, 6).as("path"), regexp_extract(v, re, 7).as("protocol"),
                    regexp_extract(v, re, 8).try_cast("int").as("status"), regexp_extract(v, re, 9).try_cast("long").as("size"),
                    regexp_extract(v, re, 10).as("referrer"), regexp_extract(v, re, 11).as("user_agent"));
            Supplier<Dataset<Row>> parsed = () -> SashSpark.parse(text, "value", ParseSpec.of("combined"));
            double spark2 = bestSeconds(2, () -> noop(regex.get()));
            double sash2 = bestSeconds(3, () -> noop(parsed.get()));
            out.add("## Spark local[2]: `SashSpark.parse` vs `regexp_extract` with casts (target: at least 3x)");
            out.add("");
            out.add(lineCount + " lines (the real 10k-line combined log, repeated), cached in 2 partitions; 11 columns with status, size and timestamp typed; to a no-op sink.");
            out.add("");
            out.add("| | best s | lines/s |");
            out.add("|---|---:|---:|");
            out.add(String.format("| Spark `regexp_extract` x 11 + `try_cast` + `try_to_timestamp` | %.2f | %.2fM |", spark2, lineCount / spark2 / 1e6));
            out.add(String.format("| `SashSpark.parse(..., combined)` | %.2f | %.2fM |", sash2, lineCount / sash2 / 1e6));
            out.add(String.format("| **speed-up** | **%.2fx** | |", spark2 / sash2));
            out.add("");
        } finally {
            spark.stop();
        }
    }
}
