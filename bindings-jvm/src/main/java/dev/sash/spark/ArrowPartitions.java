package dev.sash.spark;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.spark.TaskContext;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.execution.arrow.ArrowWriter;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.ArrowUtils;
import org.apache.spark.sql.vectorized.ArrowColumnVector;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarBatch;

/**
 * Spark rows into Arrow batches and Arrow batches back into Spark rows, with
 * Spark's own converters (the ones {@code mapInArrow} uses): {@link ArrowWriter}
 * writes InternalRows into vectors, {@link ArrowColumnVector} reads vectors in
 * place.
 */
final class ArrowPartitions {
    private ArrowPartitions() {}

    /** An empty batch of {@code schema} in Arrow form. */
    static VectorSchemaRoot emptyRoot(StructType schema, String timeZone, BufferAllocator allocator) {
        return VectorSchemaRoot.create(ArrowUtils.toArrowSchema(schema, timeZone, true), allocator);
    }

    /** Writes up to {@code maxRows} rows of {@code rows} (all when maxRows <= 0) into a new batch. */
    static VectorSchemaRoot write(Iterator<InternalRow> rows, StructType schema, String timeZone, BufferAllocator allocator, int maxRows) {
        VectorSchemaRoot root = emptyRoot(schema, timeZone, allocator);
        try {
            ArrowWriter writer = ArrowWriter.create(root);
            int n = 0;
            while (rows.hasNext() && (maxRows <= 0 || n < maxRows)) {
                writer.write(rows.next());
                n++;
            }
            writer.finish();
            return root;
        } catch (RuntimeException e) {
            root.close();
            throw e;
        }
    }

    /** The rows of {@code vectors} (all of {@code rowCount} rows) as InternalRows, read in place. */
    static Iterator<InternalRow> rows(List<FieldVector> vectors, int rowCount) {
        ColumnVector[] columns = new ColumnVector[vectors.size()];
        for (int i = 0; i < columns.length; i++) {
            columns[i] = new ArrowColumnVector(vectors.get(i));
        }
        ColumnarBatch batch = new ColumnarBatch(columns, rowCount);
        return batch.rowIterator();
    }

    /**
     * Runs {@code cleanup} once: when {@code rows} is exhausted or when the task
     * ends, whichever comes first (a task may stop reading early, e.g. a limit).
     */
    static Iterator<InternalRow> closingAtEnd(Iterator<InternalRow> rows, AutoCloseable cleanup) {
        Runnable once = new Runnable() {
            private boolean done;

            @Override
            public synchronized void run() {
                if (done) return;
                done = true;
                try {
                    cleanup.close();
                } catch (Exception e) {
                    throw new IllegalStateException("sash: closing Arrow memory failed", e);
                }
            }
        };
        TaskContext task = TaskContext.get();
        if (task != null) {
            task.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) ctx -> once.run());
        }
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                boolean more = rows.hasNext();
                if (!more) once.run();
                return more;
            }

            @Override
            public InternalRow next() {
                if (!hasNext()) throw new NoSuchElementException();
                return rows.next();
            }
        };
    }

    /** Closes every resource, the last one first. */
    static AutoCloseable all(AutoCloseable... resources) {
        List<AutoCloseable> list = new ArrayList<>(List.of(resources));
        return () -> {
            for (int i = list.size() - 1; i >= 0; i--) {
                if (list.get(i) != null) list.get(i).close();
            }
        };
    }
}
