package dev.sash.spark;

import static org.apache.spark.sql.functions.avg;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.session_window;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.window;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sash.ParseSpec;
import dev.sash.RollingSpec;
import dev.sash.Sash;
import dev.sash.SashSpecException;
import dev.sash.WindowSpec;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** SashSpark in Spark local[2], checked against Spark's own operators and against the single-process kernel. */
class SashSparkTest {
    static SparkSession spark;
    static final Path LOGS = Path.of(System.getProperty("sash.repo.root", "..")).resolve("tests/data/logs");

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("sash-test")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.ui.enabled", "false")
                .getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** Random events over ~1 hour: keys with nulls, values with nulls, unsorted, a few duplicate times. */
    static Dataset<Row> randomEvents(long seed, int rows) {
        Random random = new Random(seed);
        List<Row> data = new ArrayList<>();
        String[] hosts = {"a", "b", "c", "d", "e", null};
        for (int i = 0; i < rows; i++) {
            long micros = 1_700_000_000_000_000L + random.nextInt(3_600) * 1_000_000L + random.nextInt(1_000_000);
            if (random.nextInt(10) == 0 && i > 0) micros = ((Timestamp) data.get(random.nextInt(i)).get(1)).getTime() * 1000;
            Timestamp ts = new Timestamp(micros / 1000);
            ts.setNanos((int) (micros % 1_000_000) * 1000);
            Long v = random.nextInt(8) == 0 ? null : (long) random.nextInt(1000) - 200;
            Double d = random.nextInt(8) == 0 ? null : random.nextGaussian() * 100;
            data.add(RowFactory.create(i, ts, hosts[random.nextInt(hosts.length)], v, d));
        }
        StructType schema = new StructType()
                .add("id", DataTypes.IntegerType, false)
                .add("ts", DataTypes.TimestampType, false)
                .add("host", DataTypes.StringType, true)
                .add("v", DataTypes.LongType, true)
                .add("d", DataTypes.DoubleType, true);
        return spark.createDataFrame(data, schema).repartition(3);
    }

    /** Rows as sorted strings, doubles rounded to 9 significant digits (sums in another order differ in the last bits). */
    static List<String> canonical(Dataset<Row> data) {
        List<String> out = new ArrayList<>();
        for (Row row : data.collectAsList()) {
            StringBuilder s = new StringBuilder();
            for (int i = 0; i < row.length(); i++) {
                Object v = row.get(i);
                if (v instanceof Double x) v = String.format("%.9g", x);
                s.append(v).append('|');
            }
            out.add(s.toString());
        }
        out.sort(null);
        return out;
    }

    @Test
    void tumblingEqualsSparkGroupByWindow() {
        Dataset<Row> events = randomEvents(1, 5_000);
        Dataset<Row> ours = SashSpark.windowAgg(events, WindowSpec.tumbling("ts", "1m").by("host")
                .aggs("count() as n", "count(v) as nv", "sum(v) as sv", "mean(d) as md", "min(d) as lo", "max(v) as hi").build());
        Dataset<Row> theirs = events.groupBy(col("host"), window(col("ts"), "1 minute"))
                .agg(count(lit(1)).as("n"), count(col("v")).as("nv"), sum(col("v")).as("sv"), avg(col("d")).as("md"),
                        min(col("d")).as("lo"), max(col("v")).as("hi"))
                .select(col("host"), col("window.start").as("window_start"), col("window.end").as("window_end"),
                        col("n"), col("nv"), col("sv"), col("md"), col("lo"), col("hi"));
        assertEquals(List.of("host", "window_start", "window_end", "n", "nv", "sv", "md", "lo", "hi"), List.of(ours.columns()));
        assertEquals(theirs.schema().apply("window_start").dataType(), ours.schema().apply("window_start").dataType());
        assertEquals(canonical(theirs), canonical(ours));
    }

    @Test
    void executorsRunOneThreadPerTaskUnlessSparkSashThreadsSaysOtherwise() {
        // local[2]: the executor is this JVM, so its process-wide count is visible here.
        Dataset<Row> events = randomEvents(4, 3_000);
        WindowSpec spec = WindowSpec.tumbling("ts", "1m").by("host").aggs("count() as n", "sum(v) as sv").build();
        Sash.setThreads(5);
        try {
            List<String> oneThread = canonical(SashSpark.windowAgg(events, spec));
            assertEquals(1, Sash.threads(), "by default a task runs the kernel on one thread");
            spark.conf().set(SashSpark.THREADS_CONF, "3");
            assertEquals(oneThread, canonical(SashSpark.windowAgg(events, spec)));
            assertEquals(3, Sash.threads());
            spark.conf().set(SashSpark.THREADS_CONF, "many");
            SashSpecException e = assertThrows(SashSpecException.class, () -> SashSpark.windowAgg(events, spec).count());
            assertTrue(e.getMessage().contains(SashSpark.THREADS_CONF), e.getMessage());
        } finally {
            spark.conf().unset(SashSpark.THREADS_CONF);
            Sash.setThreads(0);
        }
    }

    @Test
    void doubleKeysAndSparkDurationsEqualSpark() {
        // Spark groups -0.0 with 0.0 and every NaN together; so does sash.
        Double[] levels = {0.0, -0.0, Double.NaN, 1.5, null};
        Random random = new Random(4);
        List<Row> data = new ArrayList<>();
        for (int i = 0; i < 2_000; i++) {
            Timestamp ts = new Timestamp(1_700_000_000_000L + random.nextInt(1_800) * 1_000L);
            data.add(RowFactory.create(ts, levels[random.nextInt(levels.length)], random.nextGaussian()));
        }
        StructType schema = new StructType()
                .add("ts", DataTypes.TimestampType, false)
                .add("level", DataTypes.DoubleType, true)
                .add("d", DataTypes.DoubleType, true);
        Dataset<Row> events = spark.createDataFrame(data, schema).repartition(3);
        Dataset<Row> ours = SashSpark.windowAgg(events, WindowSpec.tumbling("ts", "5 minutes").by("level")
                .aggs("count() as n", "sum(d) as sd").build());
        Dataset<Row> theirs = events.groupBy(col("level"), window(col("ts"), "5 minutes"))
                .agg(count(lit(1)).as("n"), sum(col("d")).as("sd"))
                .select(col("level"), col("window.start"), col("window.end"), col("n"), col("sd"));
        assertEquals(canonical(theirs), canonical(ours));
        // The half hour from 1,700,000,000 s starts mid-window: 7 windows, each with the 4 keys 0.0, NaN, 1.5 and null.
        assertEquals(7 * 4, ours.count());
    }

    @Test
    void hoppingEqualsSparkSlidingWindow() {
        Dataset<Row> events = randomEvents(2, 3_000);
        Dataset<Row> ours = SashSpark.windowAgg(events, WindowSpec.hopping("ts", "1m", "3m").by("host")
                .aggs("count() as n", "sum(v) as sv", "max(d) as hi").build());
        Dataset<Row> theirs = events.groupBy(col("host"), window(col("ts"), "3 minutes", "1 minute"))
                .agg(count(lit(1)).as("n"), sum(col("v")).as("sv"), max(col("d")).as("hi"))
                .select(col("host"), col("window.start"), col("window.end"), col("n"), col("sv"), col("hi"));
        assertEquals(canonical(theirs), canonical(ours));
    }

    @Test
    void sessionsEqualSparkSessionWindow() {
        Dataset<Row> events = randomEvents(3, 2_000);
        Dataset<Row> ours = SashSpark.windowAgg(events, WindowSpec.session("ts", "20s").by("host")
                .aggs("count() as n", "sum(v) as sv", "min(d) as lo").build());
        Dataset<Row> theirs = events.groupBy(col("host"), session_window(col("ts"), "20 seconds"))
                .agg(count(lit(1)).as("n"), sum(col("v")).as("sv"), min(col("d")).as("lo"))
                .select(col("host"), col("session_window.start"), col("session_window.end"), col("n"), col("sv"), col("lo"));
        assertEquals(canonical(theirs), canonical(ours));
    }

    @Test
    void withoutKeysEverythingIsOneWindowSet() {
        Dataset<Row> events = randomEvents(4, 2_000);
        Dataset<Row> ours = SashSpark.windowAgg(events, WindowSpec.tumbling("ts", "10m").aggs("count() as n", "sum(v) as sv").build());
        Dataset<Row> theirs = events.groupBy(window(col("ts"), "10 minutes")).agg(count(lit(1)).as("n"), sum(col("v")).as("sv"))
                .select(col("window.start"), col("window.end"), col("n"), col("sv"));
        assertEquals(canonical(theirs), canonical(ours));
    }

    @Test
    void holisticAggregationsSpreadKeysOverPartitionsAndEqualSpark() {
        // median's state is its values: states per partition, merged where their (key, window) meets.
        Dataset<Row> events = randomEvents(5, 4_000);
        Dataset<Row> ours = SashSpark.windowAgg(events, WindowSpec.tumbling("ts", "5m").by("host")
                .aggs("count() as n", "median(d) as med", "max(v) as hi").build());
        long busyPartitions = ours.select(org.apache.spark.sql.functions.spark_partition_id().as("p")).distinct().count();
        assertTrue(busyPartitions >= 2, "the keyed windows ran in " + busyPartitions + " partition(s)");
        assertEquals(4_000, ours.agg(sum(col("n"))).first().getLong(0));
        Dataset<Row> theirs = events.groupBy(col("host"), window(col("ts"), "5 minutes"))
                .agg(count(lit(1)).as("n"), org.apache.spark.sql.functions.median(col("d")).as("med"), max(col("v")).as("hi"))
                .select(col("host"), col("window.start"), col("window.end"), col("n"), col("med"), col("hi"));
        assertEquals(canonical(theirs), canonical(ours));
    }

    @Test
    void decomposableAggregationsMergePartialsFromEveryPartition() {
        // States per input partition, merged by the kernel after a shuffle of the states only.
        Dataset<Row> events = randomEvents(8, 6_000).repartition(5);
        Dataset<Row> ours = SashSpark.windowAgg(events, WindowSpec.hopping("ts", "2m", "5m").by("host")
                .aggs("count() as n", "mean(v) as mv", "mean(d) as md", "sum(d) as sd", "min(v) as lo").build());
        Dataset<Row> theirs = events.groupBy(col("host"), window(col("ts"), "5 minutes", "2 minutes"))
                .agg(count(lit(1)).as("n"), avg(col("v")).as("mv"), avg(col("d")).as("md"), sum(col("d")).as("sd"), min(col("v")).as("lo"))
                .select(col("host"), col("window.start"), col("window.end"), col("n"), col("mv"), col("md"), col("sd"), col("lo"));
        assertEquals(canonical(theirs), canonical(ours));
        String lineage = ours.queryExecution().toRdd().toDebugString();
        assertTrue(lineage.contains("ShuffledRowRDD"), "the states are shuffled: " + lineage);
    }

    @Test
    void columnarSourcesGoStraightToArrowAndStillEqualSpark(@org.junit.jupiter.api.io.TempDir Path dir) {
        // A Parquet scan hands over column batches: nulls in keys and values, every supported type.
        Dataset<Row> events = randomEvents(9, 5_000)
                .withColumn("i", expr("cast(v as int)")).withColumn("f", expr("cast(d as float)"))
                .withColumn("day", expr("to_date(ts)")).withColumn("flag", expr("v % 2 = 0"));
        events.write().parquet(dir.resolve("events").toString());
        Dataset<Row> fromFile = spark.read().parquet(dir.resolve("events").toString());
        Dataset<Row> ours = SashSpark.windowAgg(fromFile, WindowSpec.tumbling("ts", "1m").by("host", "flag")
                .aggs("count() as n", "sum(i) as si", "mean(f) as mf", "max(day) as md", "min(d) as lo", "count(v) as nv").build());
        Dataset<Row> theirs = fromFile.groupBy(col("host"), col("flag"), window(col("ts"), "1 minute"))
                .agg(count(lit(1)).as("n"), sum(col("i")).as("si"), avg(col("f")).as("mf"), max(col("day")).as("md"),
                        min(col("d")).as("lo"), count(col("v")).as("nv"))
                .select(col("host"), col("flag"), col("window.start"), col("window.end"), col("n"), col("si"), col("mf"), col("md"), col("lo"), col("nv"));
        assertTrue(ColumnarInput.batches(fromFile) != null, "a Parquet scan is read as column batches");
        assertEquals(canonical(theirs), canonical(ours));
    }

    @Test
    void rollingEqualsTheSingleProcessKernel() throws Exception {
        Dataset<Row> events = randomEvents(6, 2_000);
        RollingSpec spec = RollingSpec.builder("ts", "5m").by("host").aggs("count() as n", "sum(v) as sv", "mean(d) as md").build();
        Dataset<Row> ours = SashSpark.rolling(events, spec);
        assertEquals(List.of("id", "ts", "host", "v", "d", "n", "sv", "md"), List.of(ours.columns()));
        // The same rows through the Java API in one process.
        Dataset<Row> local = spark.createDataFrame(SashSpark.rolling(events.coalesce(1), spec).collectAsList(), ours.schema());
        assertEquals(canonical(local), canonical(ours));
        // And by brute force: n is the number of rows of the same host in (t - 5m, t].
        List<Row> rows = events.collectAsList();
        for (Row r : ours.filter(col("id").lt(50)).collectAsList()) {
            long t = ((Timestamp) r.get(1)).getTime();
            long n = rows.stream().filter(o -> java.util.Objects.equals(o.get(2), r.get(2)))
                    .filter(o -> ((Timestamp) o.get(1)).getTime() <= t && ((Timestamp) o.get(1)).getTime() > t - 300_000).count();
            assertEquals(n, r.getLong(5), "row " + r);
        }
    }

    /** A parsed value as text, the same from Arrow Java and from Spark (Arrow Java reads UInt16 as a char). */
    static String text(Object value) {
        if (value instanceof Character c) return Integer.toString(c);
        if (value instanceof java.math.BigDecimal d) return d.toBigIntegerExact().toString();
        return String.valueOf(value);
    }

    @Test
    void parseEqualsTheSingleProcessKernelOnRealLogs() throws Exception {
        for (String[] file : new String[][] {{"apache_combined_10k.log", "combined"}, {"linux_2k.log", "syslog"}, {"openssh_2k.log", "syslog"}, {"apache_2k.log", "apache_error"}}) {
            String spec = file[1].equals("syslog")
                    ? "{\"format\":\"syslog\",\"reference_time\":\"2026-01-01T00:00:00Z\",\"timezone\":\"UTC\"}"
                    : "{\"format\":\"" + file[1] + "\"}";
            Dataset<Row> lines = spark.read().text(LOGS.resolve(file[0]).toString()).repartition(2);
            Dataset<Row> ours = SashSpark.parse(lines, "value", ParseSpec.fromJson(spec));
            List<String> expected = new ArrayList<>();
            List<String> columns = new ArrayList<>();
            try (BufferAllocator allocator = new RootAllocator(); ArrowReader reader = Sash.readLog(LOGS.resolve(file[0]), ParseSpec.fromJson(spec), allocator)) {
                while (reader.loadNextBatch()) {
                    VectorSchemaRoot root = reader.getVectorSchemaRoot();
                    columns.clear();
                    for (var field : root.getSchema().getFields()) {
                        // Timestamps read differently on the two sides (micros vs java.sql.Timestamp); every other column compares.
                        if (!(field.getType() instanceof org.apache.arrow.vector.types.pojo.ArrowType.Timestamp)) columns.add(field.getName());
                    }
                    for (int i = 0; i < root.getRowCount(); i++) {
                        StringBuilder row = new StringBuilder();
                        for (String c : columns) row.append(text(root.getVector(c).getObject(i))).append('|');
                        expected.add(row.toString());
                    }
                }
            }
            List<String> got = new ArrayList<>();
            for (Row r : ours.collectAsList()) {
                StringBuilder row = new StringBuilder();
                for (String c : columns) row.append(text(r.get(r.fieldIndex(c)))).append('|');
                got.add(row.toString());
            }
            assertTrue(columns.size() >= 5 && expected.size() >= 2_000, file[0] + ": " + columns);
            expected.sort(null);
            got.sort(null);
            assertEquals(expected, got, file[0] + ": every non-timestamp column of every line");
        }
    }

    @Test
    void parseGivesSparkMapsStructsAndListsWithErrorsPerRow() {
        Dataset<Row> lines = spark.createDataset(List.of(
                "level=info msg=\"hello world\" took=12",
                "{\"a\": 1, \"s\": {\"b\": \"x\"}, \"l\": [1, 2]}",
                "{\"a\": \"oops\"}"), org.apache.spark.sql.Encoders.STRING()).toDF("value").coalesce(1);
        Row kv = SashSpark.parse(lines, "value", ParseSpec.of("logfmt")).first();
        scala.collection.Map<Object, Object> fields = kv.getMap(kv.fieldIndex("fields"));
        assertEquals("hello world", fields.apply("msg"));
        assertEquals("12", fields.apply("took"));
        String json = "{\"format\":\"json\",\"schema\":[{\"name\":\"a\",\"type\":\"int64\"},"
                + "{\"name\":\"s\",\"type\":{\"struct\":[{\"name\":\"b\",\"type\":\"utf8\"}]}},{\"name\":\"l\",\"type\":{\"list\":\"int64\"}}]}";
        List<Row> rows = SashSpark.parse(lines, "value", ParseSpec.fromJson(json)).collectAsList();
        assertEquals(3, rows.size());
        Row good = rows.get(1);
        assertEquals(1L, good.getLong(good.fieldIndex("a")));
        assertEquals("x", good.getStruct(good.fieldIndex("s")).getString(0));
        assertEquals(List.of(1L, 2L), good.getList(good.fieldIndex("l")));
        assertTrue(good.isNullAt(good.fieldIndex("_error")));
        Row bad = rows.get(2);
        assertTrue(bad.isNullAt(bad.fieldIndex("a")));
        assertTrue(bad.getString(bad.fieldIndex("_error")).contains("oops"), bad.toString());
        assertTrue(!rows.get(0).isNullAt(rows.get(0).fieldIndex("_error")), "a logfmt line is not JSON");
    }

    @Test
    void sqlFunctionParsesAStructPerLine() {
        SashSpark.register(spark);
        spark.read().text(LOGS.resolve("apache_combined_10k.log").toString()).limit(500).createOrReplaceTempView("logs");
        List<Row> statuses = spark.sql("SELECT sash_parse(value, 'combined').status AS status, sash_parse(value, 'combined').path AS path FROM logs").collectAsList();
        assertEquals(500, statuses.size());
        Dataset<Row> batched = SashSpark.parse(spark.table("logs"), "value", ParseSpec.of("combined"));
        assertEquals(canonical(batched.select("status", "path")), canonical(spark.createDataFrame(statuses, batched.select("status", "path").schema())));
        assertEquals(DataTypes.IntegerType, batched.schema().apply("status").dataType(), "UInt16 reads as Spark's int");
        assertThrows(Exception.class, () -> spark.sql("SELECT sash_parse(value, value) FROM logs").collect());
        // Maps, and a JSON spec as the format.
        Row kv = spark.sql("SELECT sash_parse('level=info msg=\\\"hi there\\\"', 'logfmt').fields['msg'] AS msg").first();
        assertEquals("hi there", kv.getString(0));
        Row js = spark.sql("SELECT sash_parse('{\"a\": 5}', '{\"format\": \"json\", \"schema\": [{\"name\": \"a\", \"type\": \"int64\"}]}').a AS a").first();
        assertEquals(5L, js.getLong(0));
    }

    @Test
    void badSpecsFailOnTheDriver() {
        Dataset<Row> events = randomEvents(7, 10);
        SashSpecException e = assertThrows(SashSpecException.class,
                () -> SashSpark.windowAgg(events, WindowSpec.tumbling("ts", "1m").agg("mean(nope)").build()));
        assertEquals("unknown_column", e.kind());
    }
}
