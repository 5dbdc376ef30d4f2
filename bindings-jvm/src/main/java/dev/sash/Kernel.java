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
        return single(allocator, (in, inSchema) -> Data.exportVectorSchemaRoot(allocator, input, dictionaries, in, inSchema),
                (a, s, oa, os) -> {
                    switch (op) {
                        case WINDOW -> NativeLib.windowAgg(a, s, spec, sparkTypes, oa, os);
                        case ROLLING -> NativeLib.rolling(a, s, spec, sparkTypes, oa, os);
                        case PARSE -> throw new IllegalStateException("parse takes a vector, not a batch");
                    }
                });
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
        return single(allocator, (in, inSchema) -> Data.exportVector(allocator, lines, null, in, inSchema),
                (a, s, oa, os) -> NativeLib.parse(a, s, spec, sparkTypes, oa, os));
    }

    /** Exports an input into C structs. */
    private interface Export {
        void into(ArrowArray array, ArrowSchema schema);
    }

    /** A single-batch native call on struct addresses: input array and schema, output array and schema. */
    private interface SingleCall {
        void run(long array, long schema, long outArray, long outSchema);
    }

    /**
     * The C Data round trip of every single-batch call: Java allocates the four
     * structs, exports the input, the native call takes it and fills the output,
     * Java imports the result; the structs' memory is freed whatever happens.
     */
    private static VectorSchemaRoot single(BufferAllocator allocator, Export export, SingleCall call) {
        try (ArrowArray in = ArrowArray.allocateNew(allocator);
             ArrowSchema inSchema = ArrowSchema.allocateNew(allocator);
             ArrowArray out = ArrowArray.allocateNew(allocator);
             ArrowSchema outSchema = ArrowSchema.allocateNew(allocator)) {
            export.into(in, inSchema);
            call.run(in.memoryAddress(), inSchema.memoryAddress(), out.memoryAddress(), outSchema.memoryAddress());
            return Data.importVectorSchemaRoot(allocator, out, outSchema, null);
        }
    }
}
