package dev.sash.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.sash.Kernel;
import dev.sash.RollingSpec;
import dev.sash.WindowSpec;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Stream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.CatalystTypeConverters;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.ArrowUtils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * SashSpark equals the single-process kernel on the same rows, for every kind
 * of window (states per partition merged by the kernel; sessions' pieces
 * meeting by key, or all in one place without keys), on 1, 3 and 7 partitions, with nulls, several key and value types.
 */
class SparkMatchesKernelTest {
    static SparkSession spark;
    static Dataset<Row> events;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("sash-kernel-equality")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.shuffle.partitions", "5")
                .config("spark.ui.enabled", "false")
                .getOrCreate();
        // Distinct times (first/last and rolling row windows are then independent of
        // partition order), unsorted; nulls in keys and values; decimal, int, date, bool columns.
        events = spark.range(3_000).selectExpr(
                "timestamp_micros(1700000000000000 + ((id * 7919) % 3000) * 1000003) as ts",
                "case when id % 11 = 0 then null else concat('h', cast(id % 7 as string)) end as host",
                "id % 3 = 0 as flag",
                "case when id % 13 = 0 then null else cast((id * 31) % 1000 as bigint) - 300 end as v",
                "case when id % 17 = 0 then null else sin(id) * 100 end as d",
                "cast(((id * 17) % 500) / 7.0 as decimal(12, 3)) as price",
                "cast(id % 100 as int) as small",
                "date_add(date'2024-01-01', cast(id % 5 as int)) as day",
                "cast(timestamp_micros(1700000000000000 + ((id * 7919) % 3000) * 1000003) as timestamp_ntz) as local_ts",
                "(id * 7919) % 3000 as tick");
        events.cache().count();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    static Stream<Arguments> windowSpecs() {
        List<String> specs = List.of(
                // states per partition, merged by the kernel
                "{\"time\":\"ts\",\"every\":\"1m\",\"by\":[\"host\"],\"aggs\":[\"count() as n\",\"sum(v) as sv\",\"mean(d) as md\",\"min(price) as lo\",\"max(day) as hi\",\"count(d) as nd\",\"sum(price) as sp\",\"mean(small) as ms\"]}",
                "{\"time\":\"ts\",\"every\":\"2m\",\"period\":\"5m\",\"offset\":\"30s\",\"by\":[\"host\",\"flag\"],\"closed\":\"right\",\"aggs\":[\"count() as n\",\"max(v) as hi\",\"mean(price) as mp\"]}",
                "{\"time\":\"ts\",\"every\":\"10m\",\"aggs\":[\"count() as n\",\"sum(d) as sd\",\"min(host) as first_host\"]}",
                "{\"time\":\"ts\",\"every\":\"3m\",\"period\":\"1m\",\"by\":\"flag\",\"aggs\":[\"count(v)\",\"sum(small)\"]}",
                // holistic states (values, sets, picks), and sessions (pieces joined by the merge; with and without keys)
                "{\"time\":\"ts\",\"every\":\"5m\",\"by\":[\"host\"],\"aggs\":[\"median(d) as med\",\"quantile(v, 0.9) as p90\",\"first(v) as f\",\"last(d) as l\",\"count_distinct(small) as cd\",\"std(d) as sd\",\"min_by(host, v) as mb\"]}",
                "{\"time\":\"ts\",\"session_gap\":\"90s\",\"by\":[\"host\"],\"aggs\":[\"count() as n\",\"sum(v) as sv\",\"last(v) as l\"]}",
                "{\"time\":\"ts\",\"session_gap\":\"5m\",\"aggs\":[\"count() as n\",\"mean(d) as md\",\"max_by(small, d) as mb\"]}",
                // other time types: timestamp without zone, date, plain integers
                "{\"time\":\"local_ts\",\"every\":\"15m\",\"by\":\"host\",\"aggs\":[\"count() as n\",\"sum(v) as sv\"]}",
                "{\"time\":\"day\",\"every\":\"2d\",\"by\":\"flag\",\"aggs\":[\"count() as n\",\"max(d) as hi\",\"median(small) as med\"]}",
                "{\"time\":\"tick\",\"every\":\"100\",\"period\":\"250\",\"aggs\":[\"count() as n\",\"mean(d) as md\"]}",
                "{\"time\":\"tick\",\"session_gap\":\"3\",\"by\":\"host\",\"aggs\":[\"count() as n\"]}");
        List<Arguments> out = new ArrayList<>();
        for (String spec : specs) for (int partitions : new int[] {1, 3, 7}) out.add(Arguments.of(spec, partitions));
        return out.stream();
    }

    @ParameterizedTest(name = "{1} partitions: {0}")
    @MethodSource("windowSpecs")
    void windowAggEqualsTheKernel(String spec, int partitions) {
        Dataset<Row> data = events.repartition(partitions);
        List<String> expected = kernel(data, Kernel.Op.WINDOW, spec);
        List<String> got = SashSparkTest.canonical(SashSpark.windowAgg(data, WindowSpec.fromJson(spec)));
        assertEquals(expected, got);
    }

    static Stream<Arguments> rollingSpecs() {
        return Stream.of(
                Arguments.of("{\"time\":\"ts\",\"period\":\"3m\",\"by\":[\"host\"],\"aggs\":[\"count() as n\",\"sum(v) as sv\",\"mean(price) as mp\",\"max(d) as hi\"]}", 4),
                Arguments.of("{\"time\":\"ts\",\"period\":\"5i\",\"by\":[\"host\",\"flag\"],\"closed\":\"both\",\"aggs\":[\"median(d) as med\",\"first(v) as f\"]}", 3),
                Arguments.of("{\"time\":\"ts\",\"period\":\"2m\",\"closed\":\"left\",\"aggs\":[\"count() as n\",\"min(day) as lo\"]}", 2));
    }

    @ParameterizedTest(name = "{1} partitions: {0}")
    @MethodSource("rollingSpecs")
    void rollingEqualsTheKernel(String spec, int partitions) {
        Dataset<Row> data = events.repartition(partitions);
        assertEquals(kernel(data, Kernel.Op.ROLLING, spec), SashSparkTest.canonical(SashSpark.rolling(data, RollingSpec.fromJson(spec))));
    }

    /** The single-process kernel on all the rows at once, as canonical strings. */
    static List<String> kernel(Dataset<Row> data, Kernel.Op op, String spec) {
        String timeZone = SashSpark.timeZone(spark);
        StructType schema = data.schema();
        List<InternalRow> rows = ((org.apache.spark.sql.classic.Dataset<Row>) data).queryExecution().toRdd().toJavaRDD()
                .map(InternalRow::copy).collect();
        List<Row> result = new ArrayList<>();
        try (BufferAllocator allocator = new RootAllocator();
             VectorSchemaRoot input = ArrowPartitions.write(rows.iterator(), schema, timeZone, allocator, 0);
             VectorSchemaRoot output = Kernel.batch(op, input, null, spec, true, allocator)) {
            StructType outSchema = ArrowUtils.fromArrowSchema(output.getSchema());
            Iterator<InternalRow> it = ArrowPartitions.rows(output.getFieldVectors(), output.getRowCount());
            while (it.hasNext()) result.add((Row) CatalystTypeConverters.convertToScala(it.next(), outSchema));
            return SashSparkTest.canonical(spark.createDataFrame(result, outSchema));
        }
    }
}
