package dev.sash;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.apache.arrow.c.ArrowArray;
import org.apache.arrow.c.ArrowArrayStream;
import org.apache.arrow.c.ArrowSchema;
import org.apache.arrow.c.Data;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.OutOfMemoryException;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.TransferPair;

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

    /**
     * One batch through the kernel; {@code sparkTypes} casts the result to types Spark reads.
     * The input is exported with its own columns' allocator (Arrow Java's export
     * ties the buffers to the allocator it is given, which must share their
     * root); the result is imported into {@code allocator}.
     */
    public static VectorSchemaRoot batch(Op op, VectorSchemaRoot input, DictionaryProvider dictionaries, String spec, boolean sparkTypes,
                                      BufferAllocator allocator) {
        Objects.requireNonNull(input, "input");
        Objects.requireNonNull(allocator, "allocator");
        checkRowCount(input);
        checkDictionaries(input.getSchema().getFields(), dictionaries);
        BufferAllocator inputAllocator = input.getFieldVectors().isEmpty() ? allocator : input.getVector(0).getAllocator();
        return single(allocator, (in, inSchema) -> Data.exportVectorSchemaRoot(inputAllocator, input, dictionaries, in, inSchema),
                (a, s, oa, os) -> {
                    switch (op) {
                        case WINDOW -> NativeLib.windowAgg(a, s, spec, sparkTypes, oa, os);
                        case ROLLING -> NativeLib.rolling(a, s, spec, sparkTypes, oa, os);
                        case PARSE -> throw new IllegalStateException("parse takes a vector, not a batch");
                    }
                });
    }

    /**
     * The first step of a window aggregation in parts: the state of every
     * (keys, window) of {@code input}, whose rows start at {@code firstPosition}
     * of the whole input.
     */
    public static VectorSchemaRoot windowAggPartial(VectorSchemaRoot input, String spec, long firstPosition, boolean sparkTypes,
                                                    BufferAllocator allocator) {
        Objects.requireNonNull(input, "input");
        Objects.requireNonNull(allocator, "allocator");
        checkRowCount(input);
        BufferAllocator inputAllocator = input.getFieldVectors().isEmpty() ? allocator : input.getVector(0).getAllocator();
        return single(allocator, (in, inSchema) -> Data.exportVectorSchemaRoot(inputAllocator, input, null, in, inSchema),
                (a, s, oa, os) -> NativeLib.windowAggPartial(a, s, spec, firstPosition, sparkTypes, oa, os));
    }

    /**
     * The second step: merges partial states ({@link #windowAggPartial}
     * rows of any number of parts) of an input of schema {@code inputSchema}
     * into the window aggregation of all their rows.
     */
    public static VectorSchemaRoot windowAggMerge(Schema inputSchema, VectorSchemaRoot partials, String spec, boolean sparkTypes,
                                                  BufferAllocator allocator) {
        Objects.requireNonNull(inputSchema, "inputSchema");
        Objects.requireNonNull(partials, "partials");
        Objects.requireNonNull(allocator, "allocator");
        checkRowCount(partials);
        BufferAllocator partialAllocator = partials.getFieldVectors().isEmpty() ? allocator : partials.getVector(0).getAllocator();
        try (ArrowSchema inputStruct = ArrowSchema.allocateNew(allocator)) {
            Data.exportSchema(allocator, inputSchema, null, inputStruct);
            return single(allocator, (in, inSchema) -> Data.exportVectorSchemaRoot(partialAllocator, partials, null, in, inSchema),
                    (a, s, oa, os) -> NativeLib.windowAggMerge(inputStruct.memoryAddress(), a, s, spec, sparkTypes, oa, os));
        }
    }

    /** One batch into a stream (see {@link NativeStream}). */
    static VectorSchemaRoot streamPush(SingleCall push, VectorSchemaRoot input, BufferAllocator allocator) {
        Objects.requireNonNull(input, "input");
        Objects.requireNonNull(allocator, "allocator");
        checkRowCount(input);
        BufferAllocator inputAllocator = input.getFieldVectors().isEmpty() ? allocator : input.getVector(0).getAllocator();
        return single(allocator, (in, inSchema) -> Data.exportVectorSchemaRoot(inputAllocator, input, null, in, inSchema),
                push);
    }

    /** A native call that writes one result batch into two structs. */
    interface OutputCall {
        void run(long outArray, long outSchema);
    }

    /** The result of a call without input (see {@link WindowStream}). */
    static VectorSchemaRoot output(BufferAllocator allocator, OutputCall call) {
        Objects.requireNonNull(allocator, "allocator");
        try (ArrowArray out = ArrowArray.allocateNew(allocator);
             ArrowSchema outSchema = ArrowSchema.allocateNew(allocator)) {
            call.run(out.memoryAddress(), outSchema.memoryAddress());
            return importResult(allocator, out, outSchema);
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
            return importStream(allocator, out);
        }
    }

    /** Imports a result stream sash wrote into {@code out}: its failed pulls throw typed causes ({@link KernelReader}). */
    static ArrowReader importStream(BufferAllocator allocator, ArrowArrayStream out) {
        return new KernelReader(allocator, Data.importArrayStream(allocator, out));
    }

    /** Parses one vector of lines. */
    public static VectorSchemaRoot parseVector(FieldVector lines, String spec, boolean sparkTypes, BufferAllocator allocator) {
        Objects.requireNonNull(lines, "lines");
        Objects.requireNonNull(allocator, "allocator");
        return single(allocator, (in, inSchema) -> Data.exportVector(lines.getAllocator(), lines, null, in, inSchema),
                (a, s, oa, os) -> NativeLib.parse(a, s, spec, sparkTypes, oa, os));
    }

    /**
     * A root whose columns hold fewer values than its row count (it was
     * closed, or a column was cleared) is refused before Arrow Java exports
     * it: exporting a closed column makes Arrow Java allocate into it again.
     */
    private static void checkRowCount(VectorSchemaRoot input) {
        for (FieldVector column : input.getFieldVectors()) {
            if (column.getValueCount() < input.getRowCount()) {
                throw (RuntimeException) NativeLib.exceptionFor("invalid_array", "invalid array: column '" + column.getName() + "' holds "
                        + column.getValueCount() + " values, fewer than the " + input.getRowCount()
                        + " rows of its VectorSchemaRoot (was the root closed?)");
            }
        }
    }

    /**
     * Every dictionary-encoded column needs its dictionary from the provider:
     * refused here, as a null argument, before Arrow Java's export fails on it
     * half-way (with a NullPointerException, leaving what it allocated behind).
     */
    private static void checkDictionaries(List<Field> fields, DictionaryProvider dictionaries) {
        for (Field field : fields) {
            DictionaryEncoding encoding = field.getDictionary();
            if (encoding != null && (dictionaries == null || dictionaries.lookup(encoding.getId()) == null)) {
                String why = dictionaries == null ? "no DictionaryProvider was given" : "the DictionaryProvider has no dictionary " + encoding.getId();
                throw (RuntimeException) NativeLib.exceptionFor("null_argument", "column '" + field.getName()
                        + "' is dictionary-encoded (dictionary " + encoding.getId() + ") but " + why + ": pass the provider that holds its dictionary");
            }
            checkDictionaries(field.getChildren(), dictionaries);
        }
    }

    /** Exports an input into C structs. */
    private interface Export {
        void into(ArrowArray array, ArrowSchema schema);
    }

    /** A single-batch native call on struct addresses: input array and schema, output array and schema. */
    interface SingleCall {
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
            return importResult(allocator, out, outSchema);
        }
    }

    /**
     * Imports a result, leaking nothing when that fails. Arrow Java's import
     * leaves behind what it had taken when it stops half-way (an allocator
     * limit reached while loading the buffers keeps the whole result, and the
     * input buffers a rolling result shares, alive for good). So the result
     * is imported against the root allocator and then transferred to
     * {@code allocator}: a transfer never stops half-way, and a result over
     * the limit of {@code allocator} (or of one of its parents) is closed and
     * reported as Arrow Java reports a full allocator.
     */
    private static VectorSchemaRoot importResult(BufferAllocator allocator, ArrowArray out, ArrowSchema outSchema) {
        BufferAllocator root = allocator.getRoot();
        VectorSchemaRoot imported = null;
        try {
            // importSchema releases and closes outSchema, whatever happens.
            imported = VectorSchemaRoot.create(Data.importSchema(root, outSchema, null), root);
            Data.importIntoVectorSchemaRoot(root, out, imported, null);
        } catch (RuntimeException | Error e) {
            if (imported != null) imported.close();
            // Not taken by the import (it failed before moving the struct): release it here.
            if (out.snapshot().release != 0) out.release();
            // A root allocator too small for the result: Arrow Java wraps its OutOfMemoryException.
            if (e instanceof IllegalArgumentException && e.getCause() instanceof OutOfMemoryException oom) {
                oom.addSuppressed(e);
                throw oom;
            }
            throw e;
        }
        if (root == allocator) return imported;
        try (VectorSchemaRoot source = imported) {
            List<FieldVector> columns = new ArrayList<>();
            for (FieldVector column : source.getFieldVectors()) {
                TransferPair pair = column.getTransferPair(allocator);
                pair.transfer();
                columns.add((FieldVector) pair.getTo());
            }
            VectorSchemaRoot result = new VectorSchemaRoot(source.getSchema(), columns, source.getRowCount());
            for (BufferAllocator a = allocator; a != null; a = a.getParentAllocator()) {
                if (a.getAllocatedMemory() > a.getLimit()) {
                    long size = result.getFieldVectors().stream().mapToLong(FieldVector::getBufferSize).sum();
                    result.close();
                    throw new OutOfMemoryException("the result (about " + size + " bytes) does not fit in the limit of allocator '"
                            + a.getName() + "': " + a.getLimit() + " bytes, " + a.getAllocatedMemory() + " with the result");
                }
            }
            return result;
        }
    }
}
