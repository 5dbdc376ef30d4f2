package dev.sash;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sash.CorpusJson.CorpusType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BaseIntVector;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.DateDayVector;
import org.apache.arrow.vector.DateMilliVector;
import org.apache.arrow.vector.DecimalVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.SmallIntVector;
import org.apache.arrow.vector.TimeStampVector;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.UInt1Vector;
import org.apache.arrow.vector.UInt2Vector;
import org.apache.arrow.vector.UInt4Vector;
import org.apache.arrow.vector.UInt8Vector;
import org.apache.arrow.vector.VariableWidthFieldVector;
import org.apache.arrow.vector.complex.LargeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.complex.MapVector;
import org.apache.arrow.vector.complex.StructVector;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.DictionaryEncoding;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;

/**
 * The corpus' values as Arrow Java vectors (inputs) and Arrow Java vectors
 * as canonical values (outputs, see {@link CorpusJson}).
 */
final class CorpusArrow {
    private CorpusArrow() {}

    // ------------------------------------------------------------------ input

    /**
     * The input field of a column: for a dictionary, the in-memory form (the
     * index type, with the encoding) when {@code messageFormat} is false,
     * else the IPC "message" form (the value type, with the encoding), which
     * is what an {@link org.apache.arrow.vector.ipc.ArrowReader}'s schema holds.
     */
    static Field field(String name, CorpusType type, long dictionaryId, boolean messageFormat) {
        if (!type.isDictionary()) return new Field(name, FieldType.nullable(type.arrow()), null);
        DictionaryEncoding encoding = new DictionaryEncoding(dictionaryId, false, type.indexType());
        ArrowType arrow = messageFormat ? type.value().arrow() : type.indexType();
        return new Field(name, new FieldType(true, arrow, encoding), null);
    }

    /** A vector named {@code name} of a plain (not dictionary) type holding {@code values}. */
    static FieldVector vector(String name, CorpusType type, List<JsonNode> values, BufferAllocator allocator) {
        FieldVector v = field(name, type, 0, false).createVector(allocator);
        try {
            fill(v, type, values);
            return v;
        } catch (RuntimeException e) {
            v.close();
            throw e;
        }
    }

    /**
     * The dictionary of a dictionary-encoded column: its distinct non-null
     * values (of all the given rows), in first-seen order. The README leaves
     * the encoding to the runner.
     */
    static Dictionary dictionary(CorpusType type, long id, List<JsonNode> allValues, BufferAllocator allocator) {
        Map<Object, JsonNode> distinct = new LinkedHashMap<>();
        for (JsonNode v : allValues) {
            if (v != null && !v.isNull()) distinct.putIfAbsent(CorpusJson.canonical(type.value(), v), v);
        }
        FieldVector values = vector("dictionary", type.value(), new ArrayList<>(distinct.values()), allocator);
        return new Dictionary(values, new DictionaryEncoding(id, false, type.indexType()));
    }

    /** The index vector of a dictionary-encoded column over {@code dictionary}. */
    static FieldVector indices(String name, CorpusType type, Dictionary dictionary, List<JsonNode> values, BufferAllocator allocator) {
        List<Object> keys = new ArrayList<>();
        FieldVector dict = dictionary.getVector();
        for (int i = 0; i < dict.getValueCount(); i++) keys.add(cell(dict, i, false));
        BaseIntVector v = (BaseIntVector) field(name, type, dictionary.getEncoding().getId(), false).createVector(allocator);
        try {
            v.setInitialCapacity(values.size());
            v.allocateNew();
            for (int i = 0; i < values.size(); i++) {
                JsonNode value = values.get(i);
                if (value == null || value.isNull()) {
                    v.setNull(i);
                } else {
                    int index = keys.indexOf(CorpusJson.canonical(type.value(), value));
                    if (index < 0) throw new IllegalStateException("value " + value + " is not in the dictionary");
                    v.setWithPossibleTruncate(i, index);
                }
            }
            v.setValueCount(values.size());
            return v;
        } catch (RuntimeException e) {
            v.close();
            throw e;
        }
    }

    private static void fill(FieldVector v, CorpusType type, List<JsonNode> values) {
        int n = values.size();
        v.setInitialCapacity(n);
        v.allocateNew();
        for (int i = 0; i < n; i++) {
            JsonNode value = values.get(i);
            if (value == null || value.isNull()) {
                v.setNull(i);
            } else {
                set(v, type, i, value);
            }
        }
        v.setValueCount(n);
    }

    private static void set(FieldVector v, CorpusType type, int i, JsonNode value) {
        ArrowType t = type.arrow();
        if (t instanceof ArrowType.Int it) {
            BigInteger x = CorpusJson.integerValue(value);
            BigInteger min = it.getIsSigned() ? BigInteger.ONE.shiftLeft(it.getBitWidth() - 1).negate() : BigInteger.ZERO;
            BigInteger max = BigInteger.ONE.shiftLeft(it.getIsSigned() ? it.getBitWidth() - 1 : it.getBitWidth()).subtract(BigInteger.ONE);
            if (x.compareTo(min) < 0 || x.compareTo(max) > 0) {
                throw new IllegalArgumentException(value + " is out of range for " + type.text());
            }
            // longValue() keeps the low 64 bits: a uint64 above 2^63 is stored with its exact bit pattern.
            ((BaseIntVector) v).setWithPossibleTruncate(i, x.longValue());
        } else if (v instanceof DateDayVector d) {
            d.setSafe(i, CorpusJson.integerValue(value).intValueExact());
        } else if (v instanceof DateMilliVector d) {
            d.setSafe(i, CorpusJson.integerValue(value).longValueExact());
        } else if (v instanceof TimeStampVector ts) {
            ts.setSafe(i, CorpusJson.integerValue(value).longValueExact());
        } else if (v instanceof Float4Vector f) {
            double d = CorpusJson.floatValue(value);
            if (!Double.isNaN(d) && (double) (float) d != d) throw new IllegalArgumentException(value + " is not exactly a float32");
            f.setSafe(i, (float) d);
        } else if (v instanceof Float8Vector f) {
            f.setSafe(i, CorpusJson.floatValue(value));
        } else if (v instanceof BitVector b) {
            if (!value.isBoolean()) throw new IllegalArgumentException("bad bool " + value);
            b.setSafe(i, value.booleanValue() ? 1 : 0);
        } else if (v instanceof DecimalVector d) {
            // Exact: a value with more fraction digits than the scale is a corpus error, not something to round.
            d.setSafe(i, new BigDecimal(value.asText()).setScale(d.getScale(), RoundingMode.UNNECESSARY));
        } else if (v instanceof VariableWidthFieldVector s) {
            // utf8, large_utf8, utf8_view: the string's UTF-8; binary: the same bytes (README).
            if (!value.isTextual()) throw new IllegalArgumentException("bad " + type.text() + " value " + value);
            s.setSafe(i, value.asText().getBytes(StandardCharsets.UTF_8));
        } else {
            throw new IllegalArgumentException("no input builder for " + type.text() + " (" + v.getClass().getSimpleName() + ")");
        }
    }

    // ----------------------------------------------------------------- output

    private static final DateTimeFormatter SECONDS = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss").withZone(ZoneOffset.UTC);

    /** A timestamp as the parse corpus writes it: RFC 3339 UTC, the fraction trimmed ("2000-10-10T20:55:36Z", "...:36.5Z"). */
    static String rfc3339(long ticks, org.apache.arrow.vector.types.TimeUnit unit) {
        long perSecond = switch (unit) {
            case SECOND -> 1L;
            case MILLISECOND -> 1_000L;
            case MICROSECOND -> 1_000_000L;
            case NANOSECOND -> 1_000_000_000L;
        };
        long seconds = Math.floorDiv(ticks, perSecond);
        long nanos = Math.floorMod(ticks, perSecond) * (1_000_000_000L / perSecond);
        String text = SECONDS.format(Instant.ofEpochSecond(seconds, nanos));
        if (nanos != 0) {
            String digits = String.format("%09d", nanos).replaceAll("0+$", "");
            text += "." + digits;
        }
        return text + "Z";
    }

    /**
     * Row {@code i} of {@code v} in canonical form. With {@code parseForm},
     * values read as the parse corpus writes them: timestamps as RFC 3339
     * text, NaN and infinities as the strings "NaN", "inf", "-inf";
     * otherwise timestamps are their ticks.
     */
    static Object cell(FieldVector v, int i, boolean parseForm) {
        if (v.isNull(i)) return null;
        if (v instanceof TinyIntVector x) return BigInteger.valueOf(x.get(i));
        if (v instanceof SmallIntVector x) return BigInteger.valueOf(x.get(i));
        if (v instanceof IntVector x) return BigInteger.valueOf(x.get(i));
        if (v instanceof BigIntVector x) return BigInteger.valueOf(x.get(i));
        if (v instanceof UInt1Vector x) return BigInteger.valueOf(x.getObjectNoOverflow(i));
        if (v instanceof UInt2Vector x) return BigInteger.valueOf(x.get(i)); // a char: unsigned 16 bits
        if (v instanceof UInt4Vector x) return BigInteger.valueOf(x.getObjectNoOverflow(i));
        if (v instanceof UInt8Vector x) return x.getObjectNoOverflow(i);
        if (v instanceof DateDayVector x) return BigInteger.valueOf(x.get(i));
        if (v instanceof DateMilliVector x) return BigInteger.valueOf(x.get(i));
        if (v instanceof TimeStampVector x) {
            long ticks = x.get(i);
            if (!parseForm) return BigInteger.valueOf(ticks);
            return rfc3339(ticks, ((ArrowType.Timestamp) v.getField().getType()).getUnit());
        }
        if (v instanceof Float4Vector x) return floatCell(x.get(i), parseForm);
        if (v instanceof Float8Vector x) return floatCell(x.get(i), parseForm);
        if (v instanceof BitVector x) return x.get(i) != 0;
        if (v instanceof DecimalVector x) return x.getObject(i);
        if (v instanceof VariableWidthFieldVector x) {
            byte[] bytes = x.get(i);
            ArrowType t = v.getField().getType();
            boolean binary = t instanceof ArrowType.Binary || t instanceof ArrowType.LargeBinary || t instanceof ArrowType.BinaryView;
            if (binary) return ByteBuffer.wrap(bytes);
            return new String(bytes, StandardCharsets.UTF_8);
        }
        if (v instanceof MapVector m) {
            // A map is a list of {key, value} structs; the corpus writes it as an object.
            StructVector entries = (StructVector) m.getDataVector();
            FieldVector keys = entries.getChildrenFromFields().get(0);
            FieldVector values = entries.getChildrenFromFields().get(1);
            Map<String, Object> out = new LinkedHashMap<>();
            for (int j = m.getElementStartIndex(i); j < m.getElementEndIndex(i); j++) {
                out.put(String.valueOf(cell(keys, j, parseForm)), cell(values, j, parseForm));
            }
            return out;
        }
        if (v instanceof ListVector l) {
            List<Object> out = new ArrayList<>();
            for (int j = l.getElementStartIndex(i); j < l.getElementEndIndex(i); j++) out.add(cell(l.getDataVector(), j, parseForm));
            return out;
        }
        if (v instanceof LargeListVector l) {
            List<Object> out = new ArrayList<>();
            for (long j = l.getElementStartIndex(i); j < l.getElementEndIndex(i); j++) {
                out.add(cell(l.getDataVector(), Math.toIntExact(j), parseForm));
            }
            return out;
        }
        if (v instanceof StructVector s) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (FieldVector child : s.getChildrenFromFields()) out.put(child.getName(), cell(child, i, parseForm));
            return out;
        }
        throw new IllegalArgumentException("no reader for output column " + v.getName() + " of type " + v.getField().getType()
                + " (" + v.getClass().getSimpleName() + ")");
    }

    private static Object floatCell(double d, boolean parseForm) {
        if (parseForm) {
            if (Double.isNaN(d)) return "NaN";
            if (d == Double.POSITIVE_INFINITY) return "inf";
            if (d == Double.NEGATIVE_INFINITY) return "-inf";
        }
        return d;
    }
}
