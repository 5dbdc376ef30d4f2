package dev.sash;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sash.CorpusJson.Case;
import dev.sash.CorpusJson.CorpusType;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.apache.arrow.c.ArrowArray;
import org.apache.arrow.c.ArrowSchema;
import org.apache.arrow.c.Data;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.memory.util.MemoryUtil;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VariableWidthFieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.TransferPair;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The shared conformance corpus ({@code tests/conformance/}, format in its
 * README), unchanged, through the Java API: what {@code tests/python/corpus.py}
 * with {@code test_conformance.py} and {@code test_parse.py} do for Python and
 * {@code bindings-c/tests/conformance.rs} does for the C ABI. One dynamic test
 * per case, named by the case.
 *
 * <p>Each window case runs through every path the Java API has for it, and
 * every path must give the expected output or error:
 * <ul>
 *   <li><b>stream</b>: {@link Sash#windowAgg(ArrowReader, WindowSpec, BufferAllocator)}
 *       (or {@code rolling}) over a {@link RootsReader} holding the case's
 *       batches in order (empty batches and zero batches kept);</li>
 *   <li><b>batch</b>: for one-batch cases, {@link Sash#windowAgg(VectorSchemaRoot, DictionaryProvider, WindowSpec, BufferAllocator)}
 *       (or {@code rolling});</li>
 *   <li><b>offset</b>: for a one-batch case with a {@code slice}, the JNI
 *       entry point ({@link NativeLib}) with the batch exported whole and its
 *       columns' C Data Interface {@code offset}/{@code length} set to the
 *       slice: see {@link #sliced}.</li>
 * </ul>
 * Parse cases: {@code lines} / {@code lines_base64} through
 * {@link Sash#parse(FieldVector, ParseSpec, BufferAllocator)} and through
 * {@link Sash#parse(ArrowReader, ParseSpec, BufferAllocator)};
 * {@code text} / {@code bytes_base64} written to a temporary file and read
 * with {@link Sash#readLog(Path, ParseSpec, BufferAllocator)}.
 *
 * <p>Each case's {@code spec} is passed as JSON text: the parsed object
 * written back with its keys in their written order
 * ({@link WindowSpec#fromJson}, {@link RollingSpec#fromJson},
 * {@link ParseSpec#fromJson}). Every case ends with its allocator at zero
 * bytes.
 */
class ConformanceTest {
    private static final List<Case> WINDOW_CASES = CorpusJson.load("windows");
    private static final List<Case> PARSE_CASES = CorpusJson.load("parse");
    private static final List<Case> STREAM_CASES = CorpusJson.load("streams");

    /** Float comparison: {@code |got - want| <= max(rtol * max(|got|, |want|), 1e-12)} (README). */
    private static final double DEFAULT_RTOL = 1e-9;
    private static final double ABS_TOL = 1e-12;

    @Test
    void corpusIsWhole() {
        assertTrue(WINDOW_CASES.size() > 200, "only " + WINDOW_CASES.size() + " window cases");
        assertTrue(PARSE_CASES.size() >= 25, "only " + PARSE_CASES.size() + " parse cases");
        Set<String> names = new HashSet<>();
        for (Case c : WINDOW_CASES) assertTrue(names.add(c.name()), "duplicate case name " + c.name());
        for (Case c : PARSE_CASES) assertTrue(names.add(c.name()), "duplicate case name " + c.name());
        assertEquals(Set.of("window_agg", "rolling"), new TreeSet<>(WINDOW_CASES.stream().map(Case::op).toList()));
        assertEquals(Set.of("parse"), new TreeSet<>(PARSE_CASES.stream().map(Case::op).toList()));
    }

    @TestFactory
    Stream<DynamicTest> windows() {
        return WINDOW_CASES.stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> withAllocator(a -> checkWindowCase(c, a))));
    }

    @TestFactory
    Stream<DynamicTest> streams() {
        assertTrue(STREAM_CASES.size() >= 30, "only " + STREAM_CASES.size() + " stream cases");
        return STREAM_CASES.stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> withAllocator(a -> checkStreamCase(c, a))));
    }

    @TestFactory
    Stream<DynamicTest> parse() {
        return PARSE_CASES.stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> withAllocator(a -> checkParseCase(c, a))));
    }

    interface Body {
        void run(BufferAllocator allocator) throws Exception;
    }

    /** Runs {@code body} with a fresh allocator that must end at zero bytes. */
    private static void withAllocator(Body body) throws Exception {
        try (BufferAllocator allocator = new RootAllocator()) {
            body.run(allocator);
            assertEquals(0, allocator.getAllocatedMemory(), "the allocator must end at zero bytes");
        }
    }

    // ------------------------------------------------------------- outcomes

    /** A result as canonical values ({@link CorpusJson}), or an error (kind and message). */
    record Outcome(List<Field> fields, Map<String, String> metadata, List<List<Object>> columns, String kind, String message) {
        static Outcome error(String kind, String message) {
            return new Outcome(null, null, null, kind, message);
        }

        boolean failed() {
            return kind != null;
        }

        int rows() {
            return columns.isEmpty() ? 0 : columns.get(0).size();
        }

        int index(String name) {
            for (int i = 0; i < fields.size(); i++) if (fields.get(i).getName().equals(name)) return i;
            return -1;
        }

        @Override
        public String toString() {
            if (failed()) return "error " + kind + ": " + message;
            StringBuilder out = new StringBuilder();
            for (int i = 0; i < fields.size(); i++) {
                out.append("\n    ").append(fields.get(i).getName()).append(": ")
                        .append(columns.get(i).stream().map(CorpusJson::show).toList());
            }
            return out.toString();
        }
    }

    /** Collects the rows of one or more batches of the same schema as canonical values. */
    private static final class Collector {
        final List<Field> fields;
        final Map<String, String> metadata;
        final List<List<Object>> columns = new ArrayList<>();
        final boolean parseForm;

        Collector(Schema schema, boolean parseForm) {
            this.fields = schema.getFields();
            this.metadata = schema.getCustomMetadata() == null ? Map.of() : schema.getCustomMetadata();
            this.parseForm = parseForm;
            for (int i = 0; i < fields.size(); i++) columns.add(new ArrayList<>());
        }

        void add(VectorSchemaRoot batch) {
            assertEquals(fields, batch.getSchema().getFields(), "a batch's schema differs from the stream's");
            for (int c = 0; c < fields.size(); c++) {
                FieldVector v = batch.getVector(c);
                for (int r = 0; r < batch.getRowCount(); r++) columns.get(c).add(CorpusArrow.cell(v, r, parseForm));
            }
        }

        Outcome outcome() {
            return new Outcome(fields, metadata, columns, null, null);
        }
    }

    private static Outcome collect(VectorSchemaRoot result, boolean parseForm) {
        Collector c = new Collector(result.getSchema(), parseForm);
        c.add(result);
        return c.outcome();
    }

    private static Outcome collect(ArrowReader result, boolean parseForm) throws IOException {
        Collector c = new Collector(result.getVectorSchemaRoot().getSchema(), parseForm);
        while (result.loadNextBatch()) c.add(result.getVectorSchemaRoot());
        return c.outcome();
    }

    interface Call {
        Outcome run() throws Exception;
    }

    /**
     * The kind of an error that came out of a result stream's
     * {@code loadNextBatch} as an {@link IOException}: the Arrow C stream
     * interface carries only an errno and a message, so such an error has no
     * sash kind.
     */
    static final String STREAM_ERROR = "(no kind: an IOException from the result stream)";

    /** The outcome of a call: its result, or the kind and message of the sash exception it threw. */
    private static Outcome outcome(Call call) throws Exception {
        try {
            return call.run();
        } catch (SashSpecException e) {
            return Outcome.error(e.kind(), e.getMessage());
        } catch (SashException e) {
            return Outcome.error(e.kind(), e.getMessage());
        } catch (IOException e) {
            return Outcome.error(STREAM_ERROR, e.getMessage());
        }
    }

    /** Checks an error outcome against {@code "error": {"kind", "message_contains"}}; null when it agrees. */
    private static String checkError(Outcome got, JsonNode error) {
        String kind = error.get("kind").asText();
        if (!got.failed()) return "expected a " + kind + " error, got a result of " + got.rows() + " rows:" + got;
        if (!got.kind().equals(kind)) return "error kind " + got.kind() + " (" + got.message() + "), want " + kind;
        for (JsonNode part : error.path("message_contains")) {
            if (got.message() == null || !got.message().contains(part.asText())) {
                return "error message '" + got.message() + "' does not contain '" + part.asText() + "'";
            }
        }
        return null;
    }

    /**
     * The Arrow Java type an expected type string must come back as. A
     * {@code dictionary<k, v>} column comes back as {@code v}: the JNI layer
     * decodes dictionary columns of window_agg / rolling outputs to their value
     * type, because a VectorSchemaRoot cannot carry dictionaries
     * ({@code bindings-jvm/native/jvm_types.rs}). Every other type compares
     * exactly: timestamp unit and zone, decimal precision and scale, utf8 vs
     * large_utf8 vs utf8_view.
     */
    private static ArrowType outputType(CorpusType expected) {
        return expected.isDictionary() ? expected.valueType().arrow() : expected.arrow();
    }

    private static String checkType(String name, Field got, CorpusType want) {
        if (got.getDictionary() != null) {
            return "column " + name + " came back dictionary-encoded (" + got + "), which a VectorSchemaRoot cannot hold";
        }
        if (!got.getType().equals(outputType(want))) {
            return "column " + name + " has type " + got.getType() + ", want " + want.text()
                    + (want.isDictionary() ? " (read as " + outputType(want) + ": the JNI layer decodes dictionaries)" : "");
        }
        return null;
    }

    // ------------------------------------------------------------ windows

    private static void checkWindowCase(Case c, BufferAllocator allocator) throws Exception {
        JsonNode json = c.json();
        String spec = c.specJson();
        boolean rolling = switch (c.op()) {
            case "window_agg" -> false;
            case "rolling" -> true;
            default -> throw new IllegalArgumentException("unknown op " + c.op());
        };
        JsonNode batches = json.get("input").get("batches");
        List<String> failures = new ArrayList<>();

        String why = verdict(outcome(() -> runStream(c, rolling, spec, allocator)), json);
        if (why != null) failures.add("stream: " + why);
        if (batches.size() == 1) {
            why = verdict(outcome(() -> runBatch(c, rolling, spec, allocator)), json);
            if (why != null) failures.add("batch: " + why);
            if (batches.get(0).has("slice")) {
                why = verdict(outcome(() -> runOffset(c, rolling, spec, allocator)), json);
                if (why != null) failures.add("offset: " + why);
            }
        }
        if (!failures.isEmpty()) fail(describe(c) + "\n  " + String.join("\n  ", failures));
    }

    /** "file / name (doc)" for a failure message. */
    private static String describe(Case c) {
        return c.file() + " / " + c.name() + " (" + c.json().path("doc").asText() + ")";
    }

    private static String verdict(Outcome got, JsonNode json) {
        if (json.has("error")) return checkError(got, json.get("error"));
        if (got.failed()) return "unexpected error " + got.kind() + ": " + got.message();
        return compareTable(got, json.get("expected"));
    }

    /** Compares a result with {@code expected} as the README says; null when they agree. */
    private static String compareTable(Outcome got, JsonNode expected) {
        List<Map.Entry<String, CorpusType>> schema = CorpusJson.parseSchema(expected.get("schema"));
        List<String> gotNames = got.fields().stream().map(Field::getName).toList();
        List<String> wantNames = schema.stream().map(Map.Entry::getKey).toList();
        if (!gotNames.equals(wantNames)) return "columns " + gotNames + ", want " + wantNames;
        for (int i = 0; i < schema.size(); i++) {
            String why = checkType(wantNames.get(i), got.fields().get(i), schema.get(i).getValue());
            if (why != null) return why;
        }
        for (Map.Entry<String, JsonNode> m : iterable(expected.path("metadata"))) {
            String value = got.metadata().get(m.getKey());
            if (!m.getValue().asText().equals(value)) {
                return "metadata " + m.getKey() + ": got " + value + ", want " + m.getValue().asText();
            }
        }
        JsonNode columns = expected.get("columns");
        for (int i = 0; i < schema.size(); i++) {
            String name = wantNames.get(i);
            CorpusType type = schema.get(i).getValue();
            JsonNode want = columns.get(name);
            if (want == null) throw new IllegalStateException("expected.columns has no " + name);
            List<Object> gotColumn = got.columns().get(i);
            if (gotColumn.size() != want.size()) return "got " + gotColumn.size() + " rows, want " + want.size() + ":" + got;
            JsonNode tolerance = expected.path("tolerance").get(name);
            for (int r = 0; r < want.size(); r++) {
                Object g = gotColumn.get(r);
                Object w = CorpusJson.canonical(type, want.get(r));
                if (!sameCell(type, g, w, tolerance)) {
                    return "column " + name + " row " + r + ": got " + CorpusJson.show(g) + ", want " + CorpusJson.show(w)
                            + (tolerance != null ? " (relative tolerance " + tolerance.asDouble() + ")" : "") + got;
                }
            }
        }
        return null;
    }

    private static boolean sameCell(CorpusType type, Object got, Object want, JsonNode tolerance) {
        if (got == null || want == null) return got == null && want == null; // a null never equals a value
        ArrowType t = type.valueType().arrow();
        if (t instanceof ArrowType.FloatingPoint) {
            double rtol = tolerance == null ? DEFAULT_RTOL : tolerance.asDouble();
            return closeEnough(((Number) got).doubleValue(), ((Number) want).doubleValue(), rtol);
        }
        if (tolerance != null && got instanceof BigInteger g && want instanceof BigInteger w) {
            // Integer columns with a tolerance (approx_count_distinct) compare with that relative tolerance.
            return closeEnough(g.doubleValue(), w.doubleValue(), tolerance.asDouble());
        }
        if (got instanceof BigDecimal g && want instanceof BigDecimal w) return g.compareTo(w) == 0; // by value
        return got.equals(want);
    }

    private static boolean closeEnough(double got, double want, double rtol) {
        if (Double.isNaN(got) || Double.isNaN(want)) return Double.isNaN(got) && Double.isNaN(want);
        if (Double.isInfinite(got) || Double.isInfinite(want)) return got == want;
        return Math.abs(got - want) <= Math.max(rtol * Math.max(Math.abs(got), Math.abs(want)), ABS_TOL);
    }

    /** An object's members in written order (none for a missing node). */
    private static Iterable<Map.Entry<String, JsonNode>> iterable(JsonNode object) {
        return object.properties();
    }

    /**
     * A case's input as Arrow Java data: its batches (each a root the caller
     * closes, or hands to a reader that does) and one dictionary per
     * dictionary-encoded column, shared by every batch, holding the distinct
     * values of that column across all batches (the README leaves the
     * encoding free). Closing it closes whatever was not handed over.
     */
    private static final class Input implements AutoCloseable {
        final Schema messageSchema;
        final List<VectorSchemaRoot> batches = new ArrayList<>();
        final List<Dictionary> dictionaries = new ArrayList<>();
        private boolean handedOver;

        Input(Schema messageSchema) {
            this.messageSchema = messageSchema;
        }

        DictionaryProvider provider() {
            return new DictionaryProvider.MapDictionaryProvider(dictionaries.toArray(new Dictionary[0]));
        }

        /** A reader over the batches; it now owns them and the dictionaries. */
        RootsReader reader(BufferAllocator allocator) {
            handedOver = true;
            return new RootsReader(allocator, messageSchema, batches, dictionaries);
        }

        @Override
        public void close() {
            if (handedOver) return;
            batches.forEach(VectorSchemaRoot::close);
            dictionaries.forEach(d -> d.getVector().close());
        }
    }

    /**
     * Builds the case's input. With {@code applySlices}, a batch with
     * {@code "slice": [o, n]} is built from all its values and then cut to rows
     * [o, o + n) by {@link TransferPair#splitAndTransfer}. Arrow Java has no
     * array offset (a vector always starts at its row 0, and the C Data
     * exporter always writes offset 0), so this is the closest Arrow Java
     * comes to a zero-copy slice: fixed-width and string data buffers are
     * sliced in place, validity bitmaps and string offsets are rewritten when
     * the slice does not start on a byte boundary. The kernel then sees the
     * sliced rows at offset 0. The "offset" path ({@link #runOffset}) gives
     * the kernel a real non-zero offset instead.
     */
    private static Input buildInput(Case c, BufferAllocator allocator, boolean applySlices) {
        JsonNode input = c.json().get("input");
        List<Map.Entry<String, CorpusType>> schema = CorpusJson.parseSchema(input.get("schema"));
        JsonNode batches = input.get("batches");
        List<Field> messageFields = new ArrayList<>();
        for (int j = 0; j < schema.size(); j++) {
            messageFields.add(CorpusArrow.field(schema.get(j).getKey(), schema.get(j).getValue(), j, true));
        }
        Input out = new Input(new Schema(messageFields));
        try {
            Map<String, Dictionary> dictionaries = new LinkedHashMap<>();
            for (int j = 0; j < schema.size(); j++) {
                String name = schema.get(j).getKey();
                CorpusType type = schema.get(j).getValue();
                if (!type.isDictionary()) continue;
                List<JsonNode> all = new ArrayList<>();
                for (JsonNode b : batches) b.get("columns").get(name).forEach(all::add);
                Dictionary d = CorpusArrow.dictionary(type, j, all, allocator);
                out.dictionaries.add(d);
                dictionaries.put(name, d);
            }
            for (JsonNode b : batches) {
                List<FieldVector> vectors = new ArrayList<>();
                try {
                    int rows = -1;
                    for (Map.Entry<String, CorpusType> f : schema) {
                        JsonNode values = b.get("columns").get(f.getKey());
                        if (values == null || !values.isArray()) throw new IllegalStateException("batch without column " + f.getKey());
                        if (rows >= 0 && values.size() != rows) throw new IllegalStateException("columns of different lengths");
                        rows = values.size();
                        List<JsonNode> list = new ArrayList<>();
                        values.forEach(list::add);
                        vectors.add(f.getValue().isDictionary()
                                ? CorpusArrow.indices(f.getKey(), f.getValue(), dictionaries.get(f.getKey()), list, allocator)
                                : CorpusArrow.vector(f.getKey(), f.getValue(), list, allocator));
                    }
                    if (rows < 0) rows = 0;
                    if (applySlices && b.has("slice")) {
                        int offset = b.get("slice").get(0).asInt();
                        int length = b.get("slice").get(1).asInt();
                        if (offset < 0 || length < 0 || offset + length > rows) throw new IllegalStateException("slice out of the batch");
                        for (int j = 0; j < vectors.size(); j++) {
                            FieldVector whole = vectors.get(j);
                            TransferPair pair = whole.getTransferPair(allocator);
                            pair.splitAndTransfer(offset, length);
                            vectors.set(j, (FieldVector) pair.getTo());
                            whole.close();
                        }
                        rows = length;
                    }
                    VectorSchemaRoot root = new VectorSchemaRoot(vectors);
                    root.setRowCount(rows);
                    out.batches.add(root);
                } catch (RuntimeException e) {
                    vectors.forEach(FieldVector::close);
                    throw e;
                }
            }
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    // ------------------------------------------------------------ streams

    interface StreamCall {
        VectorSchemaRoot run(NativeStream stream);
    }

    /**
     * Runs a stream case's steps on a {@link WindowStream} or {@link RollingStream}.
     * Dictionary input columns are pushed decoded: {@code push} takes a
     * VectorSchemaRoot, which carries no dictionaries; the emissions' key
     * columns come back as their value type either way (see {@link #outputType}).
     */
    private static void checkStreamCase(Case c, BufferAllocator allocator) throws Exception {
        boolean rolling = switch (c.op()) {
            case "window_stream" -> false;
            case "rolling_stream" -> true;
            default -> throw new IllegalArgumentException("unknown op " + c.op());
        };
        JsonNode decoded = c.json().deepCopy();
        for (JsonNode f : decoded.get("input").get("schema")) {
            CorpusType type = CorpusJson.parseType(f.get("type").asText());
            if (type.isDictionary()) ((com.fasterxml.jackson.databind.node.ObjectNode) f).put("type", type.valueType().text());
        }
        String spec = c.specJson();
        try (Input in = buildInput(new Case(c.file(), c.name(), decoded), allocator, true)) {
            NativeStream stream = rolling ? new RollingStream(spec) : new WindowStream(spec);
            try {
                int i = 0;
                for (JsonNode step : c.json().get("steps")) {
                    String where = "step " + i++ + " " + step.fieldNames().next();
                    if (step.has("restore")) {
                        byte[] snapshot = stream.snapshot();
                        stream.close();
                        stream = rolling ? RollingStream.restore(snapshot) : WindowStream.restore(snapshot);
                        continue;
                    }
                    StreamCall call;
                    if (step.has("push")) {
                        VectorSchemaRoot batch = in.batches.get(step.get("push").asInt());
                        call = s -> s.push(batch, allocator);
                    } else if (step.has("advance")) {
                        long watermark = step.get("advance").asLong();
                        call = s -> s.advance(watermark, allocator);
                    } else if (step.has("finish")) {
                        call = s -> s.finish(allocator);
                    } else if (step.has("take_late")) {
                        call = s -> s.takeLate(allocator);
                    } else {
                        throw new IllegalArgumentException(where + ": no action");
                    }
                    NativeStream current = stream;
                    String why = verdict(outcome(() -> {
                        try (VectorSchemaRoot out = call.run(current)) {
                            return collect(out, false);
                        }
                    }), step);
                    if (why == null && step.has("stats")) {
                        StreamStats got = stream.stats();
                        JsonNode want = step.get("stats");
                        if (got.rowsIn() != want.get("rows_in").asLong() || got.rowsLate() != want.get("rows_late").asLong()
                                || got.nullTimesDropped() != want.get("null_times_dropped").asLong()) {
                            why = "stats " + got + ", want " + want;
                        }
                    }
                    if (why != null) fail(describe(c) + "\n  " + where + ": " + why);
                }
            } finally {
                stream.close();
            }
        }
    }

    private static Outcome runStream(Case c, boolean rolling, String spec, BufferAllocator allocator) throws IOException {
        ArrowReader input;
        try (Input in = buildInput(c, allocator, true)) {
            input = in.reader(allocator);
        }
        // The reader is consumed and closed by the call, on success and on error.
        try (ArrowReader out = rolling
                ? Sash.rolling(input, RollingSpec.fromJson(spec), allocator)
                : Sash.windowAgg(input, WindowSpec.fromJson(spec), allocator)) {
            return collect(out, false);
        }
    }

    private static Outcome runBatch(Case c, boolean rolling, String spec, BufferAllocator allocator) {
        try (Input in = buildInput(c, allocator, true);
             VectorSchemaRoot out = rolling
                     ? Sash.rolling(in.batches.get(0), in.provider(), RollingSpec.fromJson(spec), allocator)
                     : Sash.windowAgg(in.batches.get(0), in.provider(), WindowSpec.fromJson(spec), allocator)) {
            return collect(out, false);
        }
    }

    /**
     * The one-batch case with a real non-zero offset: the batch is built from
     * all its values, exported whole through the C Data Interface, and then
     * each column's {@code offset} and {@code length} (and the batch's
     * {@code length}) are set to the slice in the exported structs, which is
     * what a zero-copy slice looks like to a C Data consumer. Arrow Java
     * cannot produce such an array itself, so this calls the JNI entry point
     * directly, exactly as {@link Sash} does otherwise.
     */
    private static Outcome runOffset(Case c, boolean rolling, String spec, BufferAllocator allocator) {
        JsonNode slice = c.json().get("input").get("batches").get(0).get("slice");
        int offset = slice.get(0).asInt();
        int length = slice.get(1).asInt();
        try (Input in = buildInput(c, allocator, false);
             ArrowArray array = ArrowArray.allocateNew(allocator);
             ArrowSchema schema = ArrowSchema.allocateNew(allocator);
             ArrowArray outArray = ArrowArray.allocateNew(allocator);
             ArrowSchema outSchema = ArrowSchema.allocateNew(allocator)) {
            VectorSchemaRoot whole = in.batches.get(0);
            Data.exportVectorSchemaRoot(allocator, whole, in.provider(), array, schema);
            sliced(array, whole, offset, length);
            long a = array.memoryAddress(), s = schema.memoryAddress(), oa = outArray.memoryAddress(), os = outSchema.memoryAddress();
            if (rolling) NativeLib.rolling(a, s, spec, false, oa, os);
            else NativeLib.windowAgg(a, s, spec, false, oa, os);
            try (VectorSchemaRoot out = Data.importVectorSchemaRoot(allocator, outArray, outSchema, null)) {
                return collect(out, false);
            }
        }
    }

    /** Turns an exported batch (a struct array at offset 0) into its rows [offset, offset + length), without copying. */
    private static void sliced(ArrowArray batch, VectorSchemaRoot whole, int offset, int length) {
        ArrowArray.Snapshot top = batch.snapshot();
        assertEquals(0, top.offset, "the exported batch");
        assertEquals(whole.getFieldVectors().size(), top.n_children, "the exported batch");
        top.length = length;
        batch.save(top);
        for (int j = 0; j < top.n_children; j++) {
            // Not closed: a view of the child struct, which the batch's release callback owns.
            ArrowArray child = ArrowArray.wrap(MemoryUtil.getLong(top.children + 8L * j));
            ArrowArray.Snapshot s = child.snapshot();
            FieldVector column = whole.getVector(j);
            int nulls = 0;
            for (int r = offset; r < offset + length; r++) if (column.isNull(r)) nulls++;
            s.offset = offset;
            s.length = length;
            s.null_count = nulls;
            child.save(s);
        }
    }

    // -------------------------------------------------------------- parse

    private static final Map<String, ArrowType> LINE_TYPES = Map.of(
            "utf8", ArrowType.Utf8.INSTANCE,
            "large_utf8", ArrowType.LargeUtf8.INSTANCE,
            "utf8_view", ArrowType.Utf8View.INSTANCE,
            "binary", ArrowType.Binary.INSTANCE);

    /** The lines of a {@code lines} / {@code lines_base64} input, as bytes (null for a null line). */
    private static List<byte[]> lines(JsonNode input) {
        List<byte[]> out = new ArrayList<>();
        if (input.has("lines_base64")) {
            for (JsonNode l : input.get("lines_base64")) out.add(l.isNull() ? null : Base64.getDecoder().decode(l.asText()));
        } else {
            for (JsonNode l : input.get("lines")) out.add(l.isNull() ? null : l.asText().getBytes(StandardCharsets.UTF_8));
        }
        return out;
    }

    /** The lines as an Arrow array of the case's {@code array_type} (utf8 by default). */
    private static FieldVector lineVector(JsonNode input, BufferAllocator allocator) {
        String arrayType = input.path("array_type").asText("utf8");
        ArrowType type = LINE_TYPES.get(arrayType);
        if (type == null) throw new IllegalArgumentException("unknown array_type " + arrayType);
        List<byte[]> lines = lines(input);
        VariableWidthFieldVector v = (VariableWidthFieldVector) new Field("line", FieldType.nullable(type), null).createVector(allocator);
        try {
            v.allocateNew();
            for (int i = 0; i < lines.size(); i++) {
                byte[] line = lines.get(i);
                if (line == null) {
                    v.setNull(i);
                    continue;
                }
                if (!(type instanceof ArrowType.Binary)) requireUtf8(line);
                v.setSafe(i, line);
            }
            v.setValueCount(lines.size());
            return v;
        } catch (RuntimeException e) {
            v.close();
            throw e;
        }
    }

    /** A string array must hold valid UTF-8 (lines that are not go in a binary array_type). */
    private static void requireUtf8(byte[] bytes) {
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes));
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("a line of a string array_type is not UTF-8; the corpus must use array_type binary", e);
        }
    }

    private static void checkParseCase(Case c, BufferAllocator allocator) throws Exception {
        JsonNode json = c.json();
        JsonNode input = json.get("input");
        ParseSpec spec = ParseSpec.fromJson(c.specJson());
        List<String> failures = new ArrayList<>();
        int inputKinds = 0;
        for (String k : List.of("lines", "lines_base64", "text", "bytes_base64")) if (input.has(k)) inputKinds++;
        if (inputKinds != 1) throw new IllegalStateException("a parse input has exactly one of lines, lines_base64, text, bytes_base64");

        if (input.has("text") || input.has("bytes_base64")) {
            byte[] content = input.has("text")
                    ? input.get("text").asText().getBytes(StandardCharsets.UTF_8)
                    : Base64.getDecoder().decode(input.get("bytes_base64").asText());
            Path file = Files.createTempFile("sash-conformance-", ".log");
            try {
                Files.write(file, content);
                Outcome read = outcome(() -> {
                    try (ArrowReader out = Sash.readLog(file, spec, allocator)) {
                        return collect(out, true);
                    }
                });
                // An error met while reading (a truncated .gz) comes from the
                // result stream, as for parse streams below.
                String why = STREAM_ERROR.equals(read.kind()) ? lazyStreamVerdict(read, null, json) : parseVerdict(read, json, -1);
                if (why != null) failures.add("readLog: " + why);
            } finally {
                Files.deleteIfExists(file);
            }
        } else {
            int lines = lines(input).size();
            Outcome single = outcome(() -> {
                try (FieldVector vector = lineVector(input, allocator); VectorSchemaRoot out = Sash.parse(vector, spec, allocator)) {
                    return collect(out, true);
                }
            });
            String why = parseVerdict(single, json, lines);
            if (why != null) failures.add("vector: " + why);
            Outcome streamed = outcome(() -> {
                FieldVector vector = lineVector(input, allocator);
                VectorSchemaRoot batch = new VectorSchemaRoot(List.of(vector));
                batch.setRowCount(vector.getValueCount());
                ArrowReader reader = new RootsReader(allocator, List.of(batch));
                try (ArrowReader out = Sash.parse(reader, spec, allocator)) {
                    return collect(out, true);
                }
            });
            why = STREAM_ERROR.equals(streamed.kind()) ? lazyStreamVerdict(streamed, single, json) : parseVerdict(streamed, json, lines);
            if (why != null) failures.add("stream: " + why);
        }
        if (!failures.isEmpty()) fail(describe(c) + "\n  " + String.join("\n  ", failures));
    }

    /**
     * Checks an error that {@link Sash#parse(ArrowReader, ParseSpec, BufferAllocator)}
     * raised lazily, from the result stream's {@code loadNextBatch}: as the C
     * runner does for {@code sash_parse_stream}, it has no kind to compare
     * (see {@link #STREAM_ERROR}), so it must be an expected error, carry the
     * message of the one-batch call's error ({@code single}; null when there
     * is none, as for {@code readLog}) and every {@code message_contains}.
     */
    private static String lazyStreamVerdict(Outcome streamed, Outcome single, JsonNode json) {
        if (!json.has("error")) return "unexpected error from the result stream: " + streamed.message();
        if (single != null && single.failed() && !streamed.message().contains(single.message())) {
            return "the stream's error '" + streamed.message() + "' is not the one-batch call's '" + single.message() + "'";
        }
        for (JsonNode part : json.get("error").path("message_contains")) {
            if (!streamed.message().contains(part.asText())) {
                return "error message '" + streamed.message() + "' does not contain '" + part.asText() + "'";
            }
        }
        return null;
    }

    /**
     * Checks a parse outcome; null when it agrees. {@code lines} is the number
     * of input lines (one output row each unless lines join into records),
     * or -1 for raw file content.
     *
     * <p>The README also wants the parsed/failed counts to agree with
     * {@code _error}; the Java API returns no counts (only the batch), so
     * there is nothing to compare them with here.
     */
    private static String parseVerdict(Outcome got, JsonNode json, int lines) {
        if (json.has("error")) return checkError(got, json.get("error"));
        if (got.failed()) return "unexpected error " + got.kind() + ": " + got.message();
        JsonNode expected = json.get("expected");
        List<Field> fields = got.fields();
        if (fields.isEmpty() || !fields.get(fields.size() - 1).getName().equals("_error")) {
            return "_error is not the last column: " + fields.stream().map(Field::getName).toList();
        }
        // One row per line, but a multi-line record (record_start, a container
        // log's partial lines) is one row for several: the expected columns say.
        int rows = expected.get("columns").elements().next().size();
        boolean records = json.get("spec").has("record_start") || json.get("spec").path("format").asText().matches("cri|docker");
        if (lines >= 0 && !records && got.rows() != lines) return "got " + got.rows() + " rows for " + lines + " lines";
        if (got.rows() != rows) return "got " + got.rows() + " rows, expected " + rows;
        for (Map.Entry<String, JsonNode> e : iterable(expected.get("columns"))) {
            int i = got.index(e.getKey());
            if (i < 0) return "no column " + e.getKey() + " in " + fields.stream().map(Field::getName).toList();
            Object want = CorpusJson.canonicalUntyped(e.getValue());
            Object have = got.columns().get(i);
            if (!CorpusJson.sameValue(have, want)) {
                return "column " + e.getKey() + ":\n    got  " + CorpusJson.show(have) + "\n    want " + CorpusJson.show(want);
            }
        }
        for (Map.Entry<String, JsonNode> e : iterable(expected.path("types"))) {
            int i = got.index(e.getKey());
            if (i < 0) return "no column " + e.getKey() + " (for expected.types)";
            String why = checkType(e.getKey(), fields.get(i), CorpusJson.parseType(e.getValue().asText()));
            if (why != null) return why;
        }
        return null;
    }
}
