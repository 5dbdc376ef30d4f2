package dev.sash.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sash.Kernel;
import dev.sash.ParseSpec;
import dev.sash.RollingSpec;
import dev.sash.SashSpecException;
import dev.sash.WindowSpec;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.ArrowUtils;

/**
 * sash inside Spark jobs: the same kernels as {@link dev.sash.Sash}, run on the
 * executors over Arrow batches built from each partition with Spark's own
 * Arrow writer, the results read back in place.
 *
 * <pre>{@code
 * Dataset<Row> perMinute = SashSpark.windowAgg(events,
 *     WindowSpec.tumbling("ts", "1m").by("host").agg("count() as n").agg("mean(latency) as avg").build());
 * Dataset<Row> parsed = SashSpark.parse(spark.read().text("access.log"), "value", ParseSpec.of("combined"));
 * SashSpark.register(spark);   // SELECT sash_parse(value, 'combined').status FROM logs
 * }</pre>
 *
 * <p>Windows and rolling aggregations need every row of a key in one place:
 * with {@code by} keys the rows are hash-partitioned by the keys, so each
 * partition is one independent kernel call and the work spreads over the
 * partitions; without keys every row goes to one partition. Results equal the
 * single-process kernel's, row order aside (a Dataset has none). Spark has no
 * row order either, so among rows with the same time "input order"
 * (first/last ties, rolling row windows) is the order of the partition.
 *
 * <p>Threads: an executor runs one task per core already, so the kernels run
 * on one thread per task there ({@code spark.sash.threads}, default 1; set
 * it higher, or 0 for all cores, when executors run one task at a time). The
 * setting is process-wide in the executor's JVM, so in local mode it also
 * holds for {@link dev.sash.Sash} calls of the driver's own code.
 */
public final class SashSpark {
    private SashSpark() {}

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Lines per kernel call in {@link #parse}. */
    static final int PARSE_BATCH_ROWS = 64 * 1024;

    /**
     * Windowed aggregation of {@code data}: one row per (key, window), columns
     * as in docs/semantics.md.
     *
     * <p>Windows run in two steps, as SQL engines run GROUP BY: the kernel
     * computes the state of every aggregation per (keys, window) in every
     * partition where the rows are, only those state rows are shuffled, and the
     * kernel merges them. States are exact (integer sums as 128-bit decimals,
     * the values of a median, the set of a distinct count, the picked row of
     * first/last with its position), so the result is what one call over all
     * rows in partition order gives, and an integer sum that overflows is an
     * error, never a wrap. Sessions too: a partition's sessions are pieces that
     * the merge joins where they overlap, so their states meet by keys alone.
     */
    public static Dataset<Row> windowAgg(Dataset<Row> data, WindowSpec spec) {
        return twoStep(data, spec.toJson());
    }

    /** Rolling aggregation of {@code data}: every input row with its aggregates. */
    public static Dataset<Row> rolling(Dataset<Row> data, RollingSpec spec) {
        return aggregate(data, Kernel.Op.ROLLING, spec.toJson());
    }

    /**
     * Parses the string column {@code column} of {@code data}: the input columns,
     * then the format's columns and {@code _error}, one row per input row. Lines
     * go to the kernel in Arrow batches of 64K rows, without a shuffle.
     */
    public static Dataset<Row> parse(Dataset<Row> data, String column, ParseSpec spec) {
        SparkSession spark = data.sparkSession();
        StructType inSchema = data.schema();
        int lineIndex = fieldIndex(inSchema, column);
        String specJson = withUtf8Strings(spec.toJson());
        String timeZone = timeZone(spark);
        StructType parsed = parseSchema(specJson);
        for (StructField f : parsed.fields()) {
            if (List.of(inSchema.fieldNames()).contains(f.name())) {
                throw new SashSpecException("invalid_spec", "invalid spec: the parsed column \"" + f.name()
                        + "\" has the name of an input column; rename the input column first");
            }
        }
        StructType outSchema = new StructType(concat(inSchema.fields(), parsed.fields()));
        int threads = executorThreads(spark);
        FlatMapFunction<Iterator<InternalRow>, InternalRow> job = rows -> {
            useThreads(threads);
            return parsePartition(rows, inSchema, lineIndex, specJson, timeZone);
        };
        return toDataFrame(spark, internalRows(data).mapPartitions(job).rdd(), outSchema);
    }

    /**
     * Registers the SQL function {@code sash_parse(line, format)}: {@code format}
     * is a literal, a format name ("combined") or a JSON parse spec; the result
     * is a struct of the format's columns and {@code _error}. A row-at-a-time
     * function; {@link #parse} is the batched path for whole columns.
     */
    public static void register(SparkSession spark) {
        SqlFunctions.register(spark);
    }

    // ---- internals ----

    /** Rows of equal time in different partitions are ordered by partition: partition p's rows start at p << 40. */
    private static final int POSITION_BITS = 40;

    /** Aggregation states where the rows are, then a shuffle of the states only and the kernel's merge. */
    private static Dataset<Row> twoStep(Dataset<Row> data, String specJson) {
        SparkSession spark = data.sparkSession();
        String timeZone = timeZone(spark);
        StructType inSchema = data.schema();
        StructType outSchema = outputSchema(Kernel.Op.WINDOW, specJson, inSchema, timeZone);
        Dataset<Row> partials = partials(data, specJson);
        StructType partialSchema = partials.schema();
        List<Column> groups = new ArrayList<>();
        for (String key : byColumns(specJson)) groups.add(column(key));
        // A session's pieces start anywhere in it: they meet by keys alone.
        if (!readJson(specJson).has("session_gap")) groups.add(column("window_start"));
        // Without keys, one session spans every partition's pieces: one place for all.
        if (groups.isEmpty()) groups.add(org.apache.spark.sql.functions.lit(0));
        // An explicit partition count: adaptive execution would merge the
        // partitions of a small input into one otherwise.
        int partitions = Integer.parseInt(spark.conf().get("spark.sql.shuffle.partitions"));
        Dataset<Row> placed = partials.repartition(partitions, groups.toArray(Column[]::new));
        int threads = executorThreads(spark);
        FlatMapFunction<Iterator<InternalRow>, InternalRow> job = rows -> {
            useThreads(threads);
            return mergePartition(rows, partialSchema, inSchema, specJson, timeZone);
        };
        return toDataFrame(spark, internalRows(placed).mapPartitions(job).rdd(), outSchema);
    }

    /**
     * The first step of {@link #twoStep}: the kernel's aggregation states of
     * every partition where its rows are, before any shuffle (the JVM
     * benchmark times this step on its own too).
     */
    static Dataset<Row> partials(Dataset<Row> data, String specJson) {
        SparkSession spark = data.sparkSession();
        String timeZone = timeZone(spark);
        StructType inSchema = data.schema();
        StructType partialSchema;
        try (BufferAllocator allocator = new RootAllocator();
             VectorSchemaRoot empty = ArrowPartitions.emptyRoot(inSchema, timeZone, allocator);
             VectorSchemaRoot result = Kernel.windowAggPartial(empty, specJson, 0, true, allocator)) {
            partialSchema = ArrowUtils.fromArrowSchema(result.getSchema());
        }
        KernelStep step = (input, allocator) -> {
            long first = (long) org.apache.spark.TaskContext.getPartitionId() << POSITION_BITS;
            return Kernel.windowAggPartial(input, specJson, first, true, allocator);
        };
        // Column batches when the source has them (a cache, Parquet, ORC), else rows.
        RDD<org.apache.spark.sql.vectorized.ColumnarBatch> columnar = ColumnarInput.batches(data);
        RDD<InternalRow> partialRows;
        if (columnar != null) {
            int threads = executorThreads(spark);
            FlatMapFunction<Iterator<org.apache.spark.sql.vectorized.ColumnarBatch>, InternalRow> job = batches -> useThreads(threads) && batches.hasNext()
                    ? runPartition(allocator -> ColumnarInput.write(batches, inSchema, timeZone, allocator), step)
                    : java.util.Collections.emptyIterator();
            partialRows = columnar.toJavaRDD().mapPartitions(job).rdd();
        } else {
            int threads = executorThreads(spark);
            FlatMapFunction<Iterator<InternalRow>, InternalRow> job = rows -> useThreads(threads) && rows.hasNext()
                    ? runPartition(allocator -> ArrowPartitions.write(rows, inSchema, timeZone, allocator, 0), step)
                    : java.util.Collections.emptyIterator();
            partialRows = internalRows(data).mapPartitions(job).rdd();
        }
        return toDataFrame(spark, partialRows, partialSchema);
    }

    /** The second step of {@link #twoStep}: the kernel's merge of the states that met in this partition. */
    private static Iterator<InternalRow> mergePartition(Iterator<InternalRow> rows, StructType partialSchema, StructType inSchema, String spec,
                                                        String timeZone) {
        if (!rows.hasNext()) return java.util.Collections.emptyIterator();
        KernelStep merge = (partials, allocator) -> {
            try (VectorSchemaRoot empty = ArrowPartitions.emptyRoot(inSchema, timeZone, allocator)) {
                return Kernel.windowAggMerge(empty.getSchema(), partials, spec, true, allocator);
            }
        };
        return runPartition(allocator -> ArrowPartitions.write(rows, partialSchema, timeZone, allocator, 0), merge);
    }

    /** One kernel call on a partition's input. */
    private interface KernelStep extends java.io.Serializable {
        VectorSchemaRoot run(VectorSchemaRoot input, BufferAllocator allocator);
    }

    /** Writes a partition's input, runs {@code step} on it and returns the result's rows, freeing everything after the last. */
    private static Iterator<InternalRow> runPartition(java.util.function.Function<BufferAllocator, VectorSchemaRoot> input, KernelStep step) {
        BufferAllocator allocator = new RootAllocator();
        VectorSchemaRoot result;
        try (VectorSchemaRoot in = input.apply(allocator)) {
            result = step.run(in, allocator);
        } catch (RuntimeException e) {
            allocator.close();
            throw e;
        }
        return ArrowPartitions.closingAtEnd(ArrowPartitions.rows(result.getFieldVectors(), result.getRowCount()),
                ArrowPartitions.all(allocator, result));
    }

    static JsonNode readJson(String json) {
        try {
            return JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalStateException("sash: unreadable JSON " + json, e);
        }
    }

    /** A column by its exact name, whatever characters it holds. */
    private static Column column(String name) {
        return functions.col("`" + name.replace("`", "``") + "`");
    }

    /** The schema of the kernel's result, from a run on an empty batch; bad specs fail here, on the driver. */
    private static StructType outputSchema(Kernel.Op op, String specJson, StructType inSchema, String timeZone) {
        try (BufferAllocator allocator = new RootAllocator();
             VectorSchemaRoot empty = ArrowPartitions.emptyRoot(inSchema, timeZone, allocator);
             VectorSchemaRoot result = Kernel.batch(op, empty, null, specJson, true, allocator)) {
            return ArrowUtils.fromArrowSchema(result.getSchema());
        }
    }

    private static Dataset<Row> aggregate(Dataset<Row> data, Kernel.Op op, String specJson) {
        SparkSession spark = data.sparkSession();
        String timeZone = timeZone(spark);
        StructType inSchema = data.schema();
        StructType outSchema = outputSchema(op, specJson, inSchema, timeZone);
        List<String> keys = byColumns(specJson);
        Dataset<Row> placed;
        if (keys.isEmpty()) {
            placed = data.repartition(1);
        } else {
            // An explicit partition count: adaptive execution would merge the
            // partitions of a small input into one otherwise.
            Column[] columns = keys.stream().map(SashSpark::column).toArray(Column[]::new);
            int partitions = Integer.parseInt(spark.conf().get("spark.sql.shuffle.partitions"));
            placed = data.repartition(partitions, columns);
        }
        int threads = executorThreads(spark);
        FlatMapFunction<Iterator<InternalRow>, InternalRow> job = rows -> {
            useThreads(threads);
            return aggregatePartition(rows, op, inSchema, specJson, timeZone);
        };
        return toDataFrame(spark, internalRows(placed).mapPartitions(job).rdd(), outSchema);
    }

    private static Iterator<InternalRow> aggregatePartition(Iterator<InternalRow> rows, Kernel.Op op, StructType schema, String spec, String timeZone) {
        if (!rows.hasNext()) return java.util.Collections.emptyIterator();
        return runPartition(allocator -> ArrowPartitions.write(rows, schema, timeZone, allocator, 0),
                (input, allocator) -> Kernel.batch(op, input, null, spec, true, allocator));
    }

    private static Iterator<InternalRow> parsePartition(Iterator<InternalRow> rows, StructType schema, int lineIndex, String spec, String timeZone) {
        return new Iterator<>() {
            private Iterator<InternalRow> current = java.util.Collections.emptyIterator();

            @Override
            public boolean hasNext() {
                while (!current.hasNext()) {
                    if (!rows.hasNext()) return false;
                    current = nextBatch();
                }
                return true;
            }

            @Override
            public InternalRow next() {
                if (!hasNext()) throw new java.util.NoSuchElementException();
                return current.next();
            }

            private Iterator<InternalRow> nextBatch() {
                BufferAllocator allocator = new RootAllocator();
                VectorSchemaRoot input = null;
                VectorSchemaRoot parsed = null;
                try {
                    input = ArrowPartitions.write(rows, schema, timeZone, allocator, PARSE_BATCH_ROWS);
                    parsed = Kernel.parseVector(input.getVector(lineIndex), spec, true, allocator);
                    List<FieldVector> columns = new ArrayList<>(input.getFieldVectors());
                    columns.addAll(parsed.getFieldVectors());
                    return ArrowPartitions.closingAtEnd(ArrowPartitions.rows(columns, input.getRowCount()),
                            ArrowPartitions.all(allocator, input, parsed));
                } catch (RuntimeException e) {
                    if (parsed != null) parsed.close();
                    if (input != null) input.close();
                    allocator.close();
                    throw e;
                }
            }
        };
    }

    /** The struct of columns a parse spec produces, as Spark types. */
    static StructType parseSchema(String specJson) {
        try (BufferAllocator allocator = new RootAllocator();
             org.apache.arrow.vector.VarCharVector none = new org.apache.arrow.vector.VarCharVector("line", allocator)) {
            none.setValueCount(0);
            try (VectorSchemaRoot result = Kernel.parseVector(none, specJson, true, allocator)) {
                return ArrowUtils.fromArrowSchema(result.getSchema());
            }
        }
    }

    /**
     * The spec with {@code "strings": "utf8"} unless it says otherwise: Spark
     * cannot read string views. (The json format has no such option: its
     * strings are Utf8 already.)
     */
    static String withUtf8Strings(String specJson) {
        try {
            JsonNode node = JSON.readTree(specJson);
            if (node instanceof ObjectNode object && !object.has("strings") && !"json".equals(object.path("format").asText())) {
                object.put("strings", "utf8");
                return JSON.writeValueAsString(object);
            }
            return specJson;
        } catch (IOException e) {
            return specJson; // the kernel reports the invalid JSON with its own message
        }
    }

    private static List<String> byColumns(String specJson) {
        List<String> keys = new ArrayList<>();
        try {
            JsonNode by = JSON.readTree(specJson).path("by");
            if (by.isTextual()) keys.add(by.asText());
            else if (by.isArray()) by.forEach(k -> keys.add(k.asText()));
        } catch (IOException e) {
            // unreachable: the kernel already parsed the spec on the driver
        }
        return keys;
    }

    private static int fieldIndex(StructType schema, String column) {
        String[] names = schema.fieldNames();
        for (int i = 0; i < names.length; i++) {
            if (names[i].equals(column)) return i;
        }
        throw new SashSpecException("unknown_column", "unknown column \"" + column + "\"; the input has " + List.of(names));
    }

    private static StructField[] concat(StructField[] a, StructField[] b) {
        StructField[] all = new StructField[a.length + b.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    /** The Spark setting of the kernels' thread count on executors. */
    public static final String THREADS_CONF = "spark.sash.threads";

    /**
     * The kernels' thread count on executors: {@code spark.sash.threads}, else
     * 1, as an executor already runs one task per core and more threads per
     * task would oversubscribe it. 0 means sash's default (all the cores the
     * executor's JVM may use), for executors that run one task at a time.
     */
    static int executorThreads(SparkSession spark) {
        String value = spark.conf().get(THREADS_CONF, "1").trim();
        try {
            int threads = Integer.parseInt(value);
            if (threads >= 0 && threads <= 1024) {
                return threads;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new SashSpecException("invalid_spec", "invalid spec: " + THREADS_CONF + " must be a whole number from 0 to 1024, got \"" + value + "\"");
    }

    /**
     * Sets the executor JVM's thread count (the pool is process-wide) at the
     * start of each partition, so a count set meanwhile by other code does
     * not stay; setting the count it already has changes nothing. True, for
     * use in expressions.
     */
    static boolean useThreads(int threads) {
        dev.sash.Sash.setThreads(threads);
        return true;
    }

    static String timeZone(SparkSession spark) {
        return spark.conf().get("spark.sql.session.timeZone");
    }

    private static JavaRDD<InternalRow> internalRows(Dataset<Row> data) {
        return ((org.apache.spark.sql.classic.Dataset<Row>) data).queryExecution().toRdd().toJavaRDD();
    }

    private static Dataset<Row> toDataFrame(SparkSession spark, RDD<InternalRow> rows, StructType schema) {
        return ((org.apache.spark.sql.classic.SparkSession) spark).internalCreateDataFrame(rows, schema, false);
    }
}
