package dev.sash.spark;

import dev.sash.WindowSpec;
import java.util.Iterator;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.vectorized.ColumnarBatch;

/**
 * The steps a {@code SashSpark.windowAgg} plan is made of, run on their own
 * so the JVM benchmark can time each one against Spark's whole query. Test
 * code: it reaches the package's internal steps.
 */
public final class StageProbe {
    private StageProbe() {}

    /**
     * Spark's scan of a columnar source into one Arrow batch per partition,
     * each dropped at once: the input every SashSpark window plan starts from,
     * before the kernel runs. Returns the number of rows.
     */
    public static long scanIntoArrow(Dataset<Row> data) {
        String timeZone = SashSpark.timeZone(data.sparkSession());
        StructType schema = data.schema();
        RDD<ColumnarBatch> batches = ColumnarInput.batches(data);
        if (batches == null) throw new IllegalArgumentException("not a columnar source: " + data.schema());
        FlatMapFunction<Iterator<ColumnarBatch>, Long> job = partition -> {
            try (BufferAllocator allocator = new RootAllocator();
                 VectorSchemaRoot root = ColumnarInput.write(partition, schema, timeZone, allocator)) {
                return List.of((long) root.getRowCount()).iterator();
            }
        };
        return batches.toJavaRDD().mapPartitions(job).reduce(Long::sum);
    }

    /** The first step of {@code SashSpark.windowAgg}: the kernel's partial aggregates of every partition, before the shuffle and merge. */
    public static Dataset<Row> partials(Dataset<Row> data, WindowSpec spec) {
        return SashSpark.partials(data, spec.toJson());
    }
}
