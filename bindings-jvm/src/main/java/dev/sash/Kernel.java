package dev.sash;

import java.util.Objects;
import org.apache.arrow.c.ArrowArray;
import org.apache.arrow.c.ArrowArrayStream;
import org.apache.arrow.c.ArrowSchema;
import org.apache.arrow.c.Data;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.ArrowReader;

/**
 * The C Data Interface round trip behind {@link Sash} and the Spark
 * integration: export the input, call {@link NativeLib}, import the result.
 * {@code sparkTypes} asks the kernel for columns Spark can read (no views,
 * dictionaries or unsigned integers; microsecond timestamps). Not a stable API.
 */
public final class Kernel {
    private Kernel() {}

    /** The operations. */
    public enum Op { WINDOW, ROLLING, PARSE }

    /** One batch through the kernel; {@code sparkTypes} casts the result to types Spark reads. */
    public static VectorSchemaRoot batch(Op op, VectorSchemaRoot input, DictionaryProvider dictionaries, String spec, boolean sparkTypes,
                                      BufferAllocator allocator) {
        Objects.requireNonNull(input, "input");
        Objects.requireNonNull(allocator, "allocator");
        try (ArrowArray in = ArrowArray.allocateNew(allocator);
             ArrowSchema inSchema = ArrowSchema.allocateNew(allocator);
             ArrowArray out = ArrowArray.allocateNew(allocator);
             ArrowSchema outSchema = ArrowSchema.allocateNew(allocator)) {
            Data.exportVectorSchemaRoot(allocator, input, dictionaries, in, inSchema);
            long a = in.memoryAddress(), s = inSchema.memoryAddress(), oa = out.memoryAddress(), os = outSchema.memoryAddress();
            switch (op) {
                case WINDOW -> NativeLib.windowAgg(a, s, spec, sparkTypes, oa, os);
                case ROLLING -> NativeLib.rolling(a, s, spec, sparkTypes, oa, os);
                case PARSE -> throw new IllegalStateException("parse takes a vector, not a batch");
            }
            return Data.importVectorSchemaRoot(allocator, out, outSchema, null);
        }
    }

    /** A stream through the kernel; the input reader is consumed and closed by the kernel. */
    public static ArrowReader stream(Op op, ArrowReader input, String spec, boolean sparkTypes, BufferAllocator allocator) {
        Objects.requireNonNull(input, "input");
        Objects.requireNonNull(allocator, "allocator");
        try (ArrowArrayStream in = ArrowArrayStream.allocateNew(allocator);
             ArrowArrayStream out = ArrowArrayStream.allocateNew(allocator)) {
            Data.exportArrayStream(allocator, input, in);
            long i = in.memoryAddress(), o = out.memoryAddress();
            switch (op) {
                case WINDOW -> NativeLib.windowAggStream(i, spec, sparkTypes, o);
                case ROLLING -> NativeLib.rollingStream(i, spec, sparkTypes, o);
                case PARSE -> NativeLib.parseStream(i, spec, sparkTypes, o);
            }
            return Data.importArrayStream(allocator, out);
        }
    }

    /** Parses one vector of lines. */
    public static VectorSchemaRoot parseVector(FieldVector lines, String spec, boolean sparkTypes, BufferAllocator allocator) {
        Objects.requireNonNull(lines, "lines");
        Objects.requireNonNull(allocator, "allocator");
        try (ArrowArray in = ArrowArray.allocateNew(allocator);
             ArrowSchema inSchema = ArrowSchema.allocateNew(allocator);
             ArrowArray out = ArrowArray.allocateNew(allocator);
             ArrowSchema outSchema = ArrowSchema.allocateNew(allocator)) {
            Data.exportVector(allocator, lines, null, in, inSchema);
            NativeLib.parse(in.memoryAddress(), inSchema.memoryAddress(), spec, sparkTypes, out.memoryAddress(), outSchema.memoryAddress());
            return Data.importVectorSchemaRoot(allocator, out, outSchema, null);
        }
    }
}
