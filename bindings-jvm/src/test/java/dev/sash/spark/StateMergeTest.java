package dev.sash.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sash.Kernel;
import dev.sash.WindowSpec;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.CatalystTypeConverters;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.ArrowUtils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SashSpark's two steps (aggregation states per partition, shuffled and
 * merged by the kernel) against one kernel call over all the rows in
 * partition order: the same values exactly for every aggregation whose state
 * is exact, float sums within the bound docs/semantics.md states, and an
 * integer sum that overflows an error in both, never a wrap.
 */
class StateMergeTest {
    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("sash-state-merge")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.shuffle.partitions", "3")
                .config("spark.ui.enabled", "false")
                .getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    static final long BASE_MICROS = 1_700_000_000_000_000L;
    static final double[] MAGNITUDES = {1e16, 1.0, -1e16, 0.5, -3.25, 1e-3, 7e15};

    /**
     * Rows over 5 minutes with many equal times (ties for first/last), floats
     * of mixed magnitudes whose sum depends on the order, and integers near
     * ±2^62 whose partial sums overflow a long while the total fits.
     */
    static Dataset<Row> events(long seed, int rows, int partitions) {
        Random random = new Random(seed);
        List<Row> data = new ArrayList<>();
        String[] hosts = {"a", "b", null};
        for (int i = 0; i < rows; i += 2) {
            Timestamp ts = new Timestamp((BASE_MICROS + random.nextInt(300) * 1_000_000L) / 1000);
            String host = hosts[random.nextInt(hosts.length)];
            // Pairs of +2^62 and -2^62 (plus small noise) in the same window keep
            // its total in range, while a partition holding several of one sign does not.
            boolean noV = random.nextInt(10) == 0;
            for (long sign : new long[] {1, -1}) {
                Long v = noV ? null : (sign << 62) + random.nextInt(100);
                Double d = random.nextInt(10) == 0 ? null : MAGNITUDES[random.nextInt(MAGNITUDES.length)];
                data.add(RowFactory.create(ts, host, v, d));
            }
        }
        StructType schema = new StructType()
                .add("ts", DataTypes.TimestampType, false)
                .add("host", DataTypes.StringType, true)
                .add("v", DataTypes.LongType, true)
                .add("d", DataTypes.DoubleType, true);
        Dataset<Row> out = spark.createDataFrame(data, schema).repartition(partitions);
        out.cache().count();
        return out;
    }

    /** One kernel call over all the rows of {@code data} in partition order, as rows keyed by (host, window_start). */
    static Map<String, Row> oneCall(Dataset<Row> data, String spec) {
        String timeZone = SashSpark.timeZone(spark);
        List<InternalRow> rows = ((org.apache.spark.sql.classic.Dataset<Row>) data).queryExecution().toRdd().toJavaRDD()
                .map(InternalRow::copy).collect();
        List<Row> result = new ArrayList<>();
        try (BufferAllocator allocator = new RootAllocator();
             VectorSchemaRoot input = ArrowPartitions.write(rows.iterator(), data.schema(), timeZone, allocator, 0);
             VectorSchemaRoot output = Kernel.batch(Kernel.Op.WINDOW, input, null, spec, true, allocator)) {
            StructType outSchema = ArrowUtils.fromArrowSchema(output.getSchema());
            Iterator<InternalRow> it = ArrowPartitions.rows(output.getFieldVectors(), output.getRowCount());
            while (it.hasNext()) result.add((Row) CatalystTypeConverters.convertToScala(it.next(), outSchema));
        }
        return byWindow(result);
    }

    static Map<String, Row> byWindow(List<Row> rows) {
        Map<String, Row> out = new HashMap<>();
        for (Row row : rows) out.put(row.get(0) + "|" + row.get(1), row);
        return out;
    }

    /** Per (host, window start): the rows' count and the sum of |d| (the scale of a float sum's rounding). */
    static Map<String, double[]> scales(Dataset<Row> data) {
        Map<String, double[]> out = new HashMap<>();
        for (Row row : data.collectAsList()) {
            if (row.isNullAt(3)) continue;
            Timestamp ts = row.getTimestamp(0);
            Timestamp start = new Timestamp(ts.getTime() / 60_000 * 60_000);
            double[] s = out.computeIfAbsent(row.get(1) + "|" + start, k -> new double[2]);
            s[0] += 1;
            s[1] += Math.abs(row.getDouble(3));
        }
        return out;
    }

    static final String SPEC = "{\"time\":\"ts\",\"every\":\"1m\",\"by\":[\"host\"],\"aggs\":["
            + "\"count() as n\",\"sum(v) as sv\",\"min(v) as lo\",\"max(d) as hi\",\"first(v) as f\",\"last(d) as l\","
            + "\"median(d) as med\",\"quantile(v, 0.9) as p90\",\"count_distinct(d) as cd\",\"approx_count_distinct(v) as acd\","
            + "\"min_by(v, d) as mb\",\"max_by(host, v) as xb\","
            + "\"sum(d) as sd\",\"mean(d) as md\"]}";
    /** The columns whose values are the same whatever the split: all but the float sum and mean (the last two). */
    static final int EXACT_COLUMNS = 3 + 12;

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(ints = {1, 2, 3, 4, 5})
    void statesMergeToWhatOneCallOverAllRowsGives(int seed) {
        int partitions = 1 + new Random(seed).nextInt(7);
        Dataset<Row> data = events(seed, 3_000, partitions);
        Map<String, Row> want = oneCall(data, SPEC);
        Map<String, Row> got = byWindow(SashSpark.windowAgg(data, WindowSpec.fromJson(SPEC)).collectAsList());
        assertEquals(want.keySet(), got.keySet());
        Map<String, double[]> scales = scales(data);
        for (Map.Entry<String, Row> entry : want.entrySet()) {
            Row w = entry.getValue(), g = got.get(entry.getKey());
            for (int c = 0; c < EXACT_COLUMNS; c++) {
                assertEquals(w.get(c), g.get(c), entry.getKey() + ", column " + w.schema().fields()[c].name());
            }
            double[] scale = scales.getOrDefault(entry.getKey(), new double[2]);
            // docs/semantics.md: a float sum split anywhere is within 2·n·ε·Σ|x| of the one-pass sum (ε = 2^-53).
            double bound = scale[0] * Math.ulp(1.0) * scale[1];
            for (int c = EXACT_COLUMNS; c < w.length(); c++) {
                if (w.isNullAt(c) || g.isNullAt(c)) {
                    assertEquals(w.isNullAt(c), g.isNullAt(c), entry.getKey());
                    continue;
                }
                double divisor = c == EXACT_COLUMNS ? 1 : Math.max(1, scale[0]);
                double diff = Math.abs(w.getDouble(c) - g.getDouble(c));
                assertTrue(diff <= bound / divisor + 2 * Math.ulp(w.getDouble(c)), entry.getKey() + ", column " + c + ": " + w.get(c) + " vs " + g.get(c) + ", bound " + bound);
            }
        }
    }

    @Test
    void anIntegerSumThatOverflowsIsAnErrorNotAWrap() {
        List<Row> data = new ArrayList<>();
        for (int i = 0; i < 8; i++) data.add(RowFactory.create(new Timestamp(BASE_MICROS / 1000), "a", Long.MAX_VALUE / 4, 0.0));
        StructType schema = new StructType()
                .add("ts", DataTypes.TimestampType, false)
                .add("host", DataTypes.StringType, true)
                .add("v", DataTypes.LongType, true)
                .add("d", DataTypes.DoubleType, true);
        Dataset<Row> events = spark.createDataFrame(data, schema).repartition(4);
        String spec = "{\"time\":\"ts\",\"every\":\"1m\",\"by\":[\"host\"],\"aggs\":[\"sum(v) as sv\"]}";
        Exception e = assertThrows(Exception.class, () -> SashSpark.windowAgg(events, WindowSpec.fromJson(spec)).collectAsList());
        String messages = "";
        for (Throwable t = e; t != null; t = t.getCause()) messages += t + "\n";
        assertTrue(messages.contains("overflow"), messages);
    }
}
