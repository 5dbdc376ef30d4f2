package dev.sash.spark;

import java.util.Iterator;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.util.MemoryUtil;
import org.apache.arrow.vector.BitVectorHelper;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.DateDayVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.LargeVarCharVector;
import org.apache.arrow.vector.SmallIntVector;
import org.apache.arrow.vector.TimeStampVector;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.execution.ColumnarToRowExec;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.types.BooleanType;
import org.apache.spark.sql.types.ByteType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DateType;
import org.apache.spark.sql.types.DoubleType;
import org.apache.spark.sql.types.FloatType;
import org.apache.spark.sql.types.IntegerType;
import org.apache.spark.sql.types.LongType;
import org.apache.spark.sql.types.ShortType;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.types.TimestampNTZType;
import org.apache.spark.sql.types.TimestampType;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarBatch;

/**
 * Column batches straight from a columnar source (a cached DataFrame, a
 * Parquet or ORC scan) into Arrow, column by column, instead of through
 * rows: Spark's row path (ArrowWriter, one row and field at a time) costs more
 * than the kernel itself.
 */
final class ColumnarInput {
    private ColumnarInput() {}

    /** The source's column batches when its plan produces them and every column type is one {@link #copy} takes; else null. */
    static RDD<ColumnarBatch> batches(Dataset<Row> data) {
        for (StructField field : data.schema().fields()) {
            if (!supported(field.dataType())) return null;
        }
        SparkPlan plan = ((org.apache.spark.sql.classic.Dataset<Row>) data).queryExecution().executedPlan();
        // Under the row transition Spark adds on top (inside whole-stage code generation).
        while (plan instanceof org.apache.spark.sql.execution.WholeStageCodegenExec || plan instanceof ColumnarToRowExec
                || plan instanceof org.apache.spark.sql.execution.InputAdapter) {
            plan = plan.children().head();
        }
        return plan.supportsColumnar() ? plan.executeColumnar() : null;
    }

    static boolean supported(DataType type) {
        return type instanceof BooleanType || type instanceof ByteType || type instanceof ShortType || type instanceof IntegerType
                || type instanceof LongType || type instanceof FloatType || type instanceof DoubleType || type instanceof DateType
                || type instanceof TimestampType || type instanceof TimestampNTZType || type instanceof StringType;
    }

    /** Every batch of a partition in one Arrow batch of {@code schema} (the kernel needs all of a partition's rows). */
    static VectorSchemaRoot write(Iterator<ColumnarBatch> batches, StructType schema, String timeZone, BufferAllocator allocator) {
        VectorSchemaRoot root = ArrowPartitions.emptyRoot(schema, timeZone, allocator);
        try {
            int rows = 0;
            while (batches.hasNext()) {
                ColumnarBatch batch = batches.next();
                int n = batch.numRows();
                for (int c = 0; c < schema.fields().length; c++) {
                    copy(batch.column(c), n, root.getVector(c), rows);
                }
                rows += n;
            }
            for (FieldVector vector : root.getFieldVectors()) vector.setValueCount(rows);
            root.setRowCount(rows);
            return root;
        } catch (RuntimeException e) {
            root.close();
            throw e;
        }
    }

    /**
     * Appends {@code n} values of {@code src} to {@code dst} from position
     * {@code at}. Fixed-width values are stored straight into the vector's
     * memory (capacity made sure once per batch): per-value {@code setSafe}
     * calls cost more than the kernel's whole aggregation.
     */
    static void copy(ColumnVector src, int n, FieldVector dst, int at) {
        if (dst instanceof VarCharVector v) {
            for (int i = 0; i < n; i++) {
                if (src.isNullAt(i)) v.setNull(at + i);
                else v.setSafe(at + i, src.getUTF8String(i).getBytes());
            }
            return;
        }
        if (dst instanceof LargeVarCharVector v) {
            for (int i = 0; i < n; i++) {
                if (src.isNullAt(i)) v.setNull(at + i);
                else v.setSafe(at + i, src.getUTF8String(i).getBytes());
            }
            return;
        }
        if (dst instanceof BitVector v) {
            for (int i = 0; i < n; i++) {
                if (src.isNullAt(i)) v.setNull(at + i);
                else v.setSafe(at + i, src.getBoolean(i) ? 1 : 0);
            }
            return;
        }
        while (dst.getValueCapacity() < at + n) dst.reAlloc();
        long data = dst.getDataBufferAddress();
        if (dst instanceof BigIntVector || dst instanceof TimeStampVector) {
            for (int i = 0; i < n; i++) MemoryUtil.putLong(data + 8L * (at + i), src.getLong(i));
        } else if (dst instanceof Float8Vector) {
            for (int i = 0; i < n; i++) MemoryUtil.putLong(data + 8L * (at + i), Double.doubleToRawLongBits(src.getDouble(i)));
        } else if (dst instanceof IntVector || dst instanceof DateDayVector) {
            for (int i = 0; i < n; i++) MemoryUtil.putInt(data + 4L * (at + i), src.getInt(i));
        } else if (dst instanceof Float4Vector) {
            for (int i = 0; i < n; i++) MemoryUtil.putInt(data + 4L * (at + i), Float.floatToRawIntBits(src.getFloat(i)));
        } else if (dst instanceof SmallIntVector) {
            for (int i = 0; i < n; i++) MemoryUtil.putShort(data + 2L * (at + i), src.getShort(i));
        } else if (dst instanceof TinyIntVector) {
            for (int i = 0; i < n; i++) MemoryUtil.putByte(data + (at + i), src.getByte(i));
        } else {
            throw new IllegalStateException("sash: no columnar copy into " + dst.getClass().getSimpleName());
        }
        ArrowBuf validity = dst.getValidityBuffer();
        if (!src.hasNull()) {
            setValid(validity, at, n);
        } else {
            for (int i = 0; i < n; i++) {
                BitVectorHelper.setValidityBit(validity, at + i, src.isNullAt(i) ? 0 : 1);
            }
        }
    }

    /** Marks rows [from, from + count) valid: whole bytes at once, the ragged ends bit by bit. */
    static void setValid(ArrowBuf validity, int from, int count) {
        int i = from;
        int end = from + count;
        while (i < end && (i & 7) != 0) BitVectorHelper.setBit(validity, i++);
        int wholeBytes = (end - i) >> 3;
        if (wholeBytes > 0) {
            MemoryUtil.setMemory(validity.memoryAddress() + (i >> 3), wholeBytes, (byte) 0xFF);
            i += wholeBytes << 3;
        }
        while (i < end) BitVectorHelper.setBit(validity, i++);
    }
}
