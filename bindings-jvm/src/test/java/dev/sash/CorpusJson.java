package dev.sash;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.arrow.vector.types.DateUnit;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.TimeUnit;
import org.apache.arrow.vector.types.pojo.ArrowType;

/**
 * The shared conformance corpus ({@code tests/conformance/}, format in its
 * README) as JSON: loading the case files, the type strings as Arrow Java
 * types, and the corpus' values in the one canonical form the runner compares
 * (see {@link #canonical}).
 *
 * <p>Canonical cell values, on both sides of a comparison: {@code null};
 * {@link BigInteger} for every integer-like value (integers of any width and
 * signedness, dates, timestamp ticks); {@link Double} for floats;
 * {@link Boolean}; {@link String}; {@link ByteBuffer} for binary;
 * {@link BigDecimal} for decimals; {@link List} and {@link Map} for nested
 * parse output.
 */
final class CorpusJson {
    private CorpusJson() {}

    /** Integers beyond 2^53 (up to the full int64/uint64 range) must parse exactly: as BigInteger, never as double. */
    static final ObjectMapper MAPPER = new ObjectMapper().enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS);

    /** One case of one corpus file. */
    record Case(String file, String name, JsonNode json) {
        String op() {
            return json.path("op").asText("window_agg");
        }

        /** The spec as JSON text: the parsed object written back, keys in their written order. */
        String specJson() {
            try {
                return MAPPER.writeValueAsString(json.get("spec"));
            } catch (JsonProcessingException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** The repository root, from the system property surefire sets ({@code ${project.basedir}/..}). */
    static Path repoRoot() {
        String root = System.getProperty("sash.repo.root");
        if (root == null || root.isEmpty()) {
            throw new IllegalStateException("the system property sash.repo.root is not set (surefire sets it to the repository root)");
        }
        return Path.of(root).toAbsolutePath().normalize();
    }

    static Path corpusDir(String subdir) {
        return repoRoot().resolve("tests").resolve("conformance").resolve(subdir);
    }

    /** Every case of every {@code *.json} file of {@code tests/conformance/<subdir>/}, files in name order, cases in file order. */
    static List<Case> load(String subdir) {
        Path dir = corpusDir(subdir);
        List<Path> files;
        try (Stream<Path> listing = Files.list(dir)) {
            files = listing.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
        List<Case> cases = new ArrayList<>();
        for (Path file : files) {
            JsonNode doc;
            try {
                doc = MAPPER.readTree(file.toFile());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + file, e);
            }
            JsonNode list = doc.get("cases");
            if (list == null || !list.isArray()) throw new IllegalStateException(file + ": no \"cases\" list");
            for (JsonNode c : list) {
                cases.add(new Case(file.getFileName().toString(), c.get("name").asText(), c));
            }
        }
        return cases;
    }

    // ------------------------------------------------------------------ types

    /**
     * A type string of the corpus. {@code arrow} is the Arrow type; for
     * {@code dictionary<k, v>} it is the index type {@code k}, {@code value}
     * is {@code v}'s type and {@code indexType} is set.
     */
    record CorpusType(String text, ArrowType arrow, ArrowType.Int indexType, CorpusType value) {
        boolean isDictionary() {
            return indexType != null;
        }

        /** The type the values have: the value type of a dictionary, else the type itself. */
        CorpusType valueType() {
            return isDictionary() ? value.valueType() : this;
        }
    }

    static CorpusType parseType(String text) {
        String t = text.trim();
        ArrowType simple = switch (t) {
            case "int8" -> new ArrowType.Int(8, true);
            case "int16" -> new ArrowType.Int(16, true);
            case "int32" -> new ArrowType.Int(32, true);
            case "int64" -> new ArrowType.Int(64, true);
            case "uint8" -> new ArrowType.Int(8, false);
            case "uint16" -> new ArrowType.Int(16, false);
            case "uint32" -> new ArrowType.Int(32, false);
            case "uint64" -> new ArrowType.Int(64, false);
            case "float32" -> new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE);
            case "float64" -> new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE);
            case "bool" -> ArrowType.Bool.INSTANCE;
            case "utf8" -> ArrowType.Utf8.INSTANCE;
            case "large_utf8" -> ArrowType.LargeUtf8.INSTANCE;
            case "utf8_view" -> ArrowType.Utf8View.INSTANCE;
            case "binary" -> ArrowType.Binary.INSTANCE;
            case "date32" -> new ArrowType.Date(DateUnit.DAY);
            case "date64" -> new ArrowType.Date(DateUnit.MILLISECOND);
            default -> null;
        };
        if (simple != null) return new CorpusType(t, simple, null, null);
        if (t.startsWith("timestamp[") && t.endsWith("]")) {
            String inner = t.substring("timestamp[".length(), t.length() - 1);
            int comma = inner.indexOf(',');
            String unit = (comma < 0 ? inner : inner.substring(0, comma)).trim();
            String zone = comma < 0 ? null : inner.substring(comma + 1).trim();
            TimeUnit u = switch (unit) {
                case "s" -> TimeUnit.SECOND;
                case "ms" -> TimeUnit.MILLISECOND;
                case "us" -> TimeUnit.MICROSECOND;
                case "ns" -> TimeUnit.NANOSECOND;
                default -> throw new IllegalArgumentException("unknown time unit in " + text);
            };
            return new CorpusType(t, new ArrowType.Timestamp(u, zone), null, null);
        }
        if (t.startsWith("decimal128(") && t.endsWith(")")) {
            String[] ps = t.substring("decimal128(".length(), t.length() - 1).split(",");
            if (ps.length != 2) throw new IllegalArgumentException("decimal128(p, s): " + text);
            ArrowType.Decimal decimal = new ArrowType.Decimal(Integer.parseInt(ps[0].trim()), Integer.parseInt(ps[1].trim()), 128);
            return new CorpusType(t, decimal, null, null);
        }
        if (t.startsWith("dictionary<") && t.endsWith(">")) {
            String inner = t.substring("dictionary<".length(), t.length() - 1);
            int comma = inner.indexOf(',');
            if (comma < 0) throw new IllegalArgumentException("dictionary<key, value>: " + text);
            CorpusType key = parseType(inner.substring(0, comma));
            CorpusType value = parseType(inner.substring(comma + 1));
            if (!(key.arrow() instanceof ArrowType.Int index)) {
                throw new IllegalArgumentException("dictionary index must be an integer: " + text);
            }
            return new CorpusType(t, index, index, value);
        }
        throw new IllegalArgumentException("unknown type string '" + text + "'");
    }

    /** A schema of the corpus ({@code [{"name", "type"}, ...]}) as (name, type) pairs in order. */
    static List<Map.Entry<String, CorpusType>> parseSchema(JsonNode fields) {
        List<Map.Entry<String, CorpusType>> out = new ArrayList<>();
        for (JsonNode f : fields) out.add(Map.entry(f.get("name").asText(), parseType(f.get("type").asText())));
        return out;
    }

    // ----------------------------------------------------------------- values

    static boolean isIntegerLike(ArrowType t) {
        return t instanceof ArrowType.Int || t instanceof ArrowType.Date || t instanceof ArrowType.Timestamp;
    }

    /** A float as the corpus writes it: a JSON number or "NaN", "inf", "-inf". */
    static double floatValue(JsonNode v) {
        if (v.isNumber()) return v.doubleValue();
        if (v.isTextual()) {
            return switch (v.asText()) {
                case "NaN", "nan" -> Double.NaN;
                case "inf", "+inf", "Infinity" -> Double.POSITIVE_INFINITY;
                case "-inf", "-Infinity" -> Double.NEGATIVE_INFINITY;
                default -> throw new IllegalArgumentException("bad float " + v);
            };
        }
        throw new IllegalArgumentException("bad float " + v);
    }

    /** An integer as the corpus writes it, exactly. */
    static BigInteger integerValue(JsonNode v) {
        if (!v.isIntegralNumber()) throw new IllegalArgumentException("bad integer " + v);
        return v.bigIntegerValue();
    }

    /** A window-corpus value of the given type in canonical form. */
    static Object canonical(CorpusType type, JsonNode v) {
        if (v == null || v.isNull()) return null;
        ArrowType t = type.valueType().arrow();
        if (isIntegerLike(t)) return integerValue(v);
        if (t instanceof ArrowType.FloatingPoint) return floatValue(v);
        if (t instanceof ArrowType.Bool) {
            if (!v.isBoolean()) throw new IllegalArgumentException("bad bool " + v);
            return v.booleanValue();
        }
        if (!v.isTextual()) throw new IllegalArgumentException("bad " + type.text() + " value " + v);
        if (t instanceof ArrowType.Binary) return ByteBuffer.wrap(v.asText().getBytes(StandardCharsets.UTF_8));
        if (t instanceof ArrowType.Decimal) return new BigDecimal(v.asText());
        return v.asText();
    }

    /** A parse-corpus value (untyped JSON) in canonical form. */
    static Object canonicalUntyped(JsonNode v) {
        if (v == null || v.isNull()) return null;
        if (v.isIntegralNumber()) return v.bigIntegerValue();
        if (v.isNumber()) return v.doubleValue();
        if (v.isBoolean()) return v.booleanValue();
        if (v.isTextual()) return v.asText();
        if (v.isArray()) {
            List<Object> out = new ArrayList<>();
            v.forEach(e -> out.add(canonicalUntyped(e)));
            return out;
        }
        if (v.isObject()) {
            Map<String, Object> out = new LinkedHashMap<>();
            v.properties().forEach(e -> out.put(e.getKey(), canonicalUntyped(e.getValue())));
            return out;
        }
        throw new IllegalArgumentException("unexpected JSON value " + v);
    }

    /** Equality of canonical values, numbers by value (1 equals 1.0), maps by content whatever their key order. */
    static boolean sameValue(Object got, Object want) {
        if (got == null || want == null) return got == null && want == null;
        if (got instanceof Number g && want instanceof Number w) {
            if (g instanceof Double d && (d.isNaN() || d.isInfinite())) return w instanceof Double e && d.equals(e);
            if (w instanceof Double e && (e.isNaN() || e.isInfinite())) return false;
            return decimal(g).compareTo(decimal(w)) == 0;
        }
        if (got instanceof List<?> g && want instanceof List<?> w) {
            if (g.size() != w.size()) return false;
            for (int i = 0; i < g.size(); i++) if (!sameValue(g.get(i), w.get(i))) return false;
            return true;
        }
        if (got instanceof Map<?, ?> g && want instanceof Map<?, ?> w) {
            if (!g.keySet().equals(w.keySet())) return false;
            for (Object k : g.keySet()) if (!sameValue(g.get(k), w.get(k))) return false;
            return true;
        }
        return got.equals(want);
    }

    private static BigDecimal decimal(Number n) {
        if (n instanceof BigDecimal b) return b;
        if (n instanceof BigInteger b) return new BigDecimal(b);
        if (n instanceof Double || n instanceof Float) return new BigDecimal(n.doubleValue());
        return BigDecimal.valueOf(n.longValue());
    }

    /** A canonical value for a failure message (binary shown as its UTF-8 text). */
    static String show(Object v) {
        if (v instanceof ByteBuffer b) return "b\"" + StandardCharsets.UTF_8.decode(b.duplicate()) + "\"";
        if (v instanceof String s) return "\"" + s + "\"";
        if (v instanceof List<?> l) return l.stream().map(CorpusJson::show).toList().toString();
        return String.valueOf(v);
    }
}
