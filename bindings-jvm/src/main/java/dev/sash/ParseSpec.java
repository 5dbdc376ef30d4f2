package dev.sash;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * How to parse log lines ({@code docs/parsing.md}): a format plus its options,
 * the same keys as the JSON parse spec.
 *
 * <pre>{@code
 * ParseSpec combined = ParseSpec.of("combined");
 * ParseSpec kv = ParseSpec.builder("logfmt").option("fields", Map.of("level", "utf8", "took", "int64")).build();
 * }</pre>
 */
public final class ParseSpec {
    private final String json;

    private ParseSpec(String json) {
        this.json = json;
    }

    /** A spec from its JSON text, passed to the kernel verbatim. */
    public static ParseSpec fromJson(String json) {
        return new ParseSpec(Objects.requireNonNull(json, "json"));
    }

    /** The format with default options: "common", "combined", "syslog", "apache_error", "logfmt", "json", "regex". */
    public static ParseSpec of(String format) {
        return builder(format).build();
    }

    public static Builder builder(String format) {
        return new Builder(format);
    }

    /** The JSON text of the spec. */
    public String toJson() {
        return json;
    }

    @Override
    public String toString() {
        return json;
    }

    /** Builds a {@link ParseSpec}. */
    public static final class Builder {
        private final Map<String, Object> keys = new LinkedHashMap<>();

        private Builder(String format) {
            keys.put("format", Objects.requireNonNull(format, "format"));
        }

        /** Any option of the format: "strings", "timezone", "on_error", "fields", "pattern", "types", "schema", ... */
        public Builder option(String key, Object value) { keys.put(key, value); return this; }
        /** "view" (default: zero-copy Utf8View), "utf8" or "large_utf8". */
        public Builder strings(String strings) { return option("strings", strings); }
        /** "mark" (default: an {@code _error} column) or "raise". */
        public Builder onError(String onError) { return option("on_error", onError); }
        public Builder timezone(String zone) { return option("timezone", zone); }
        /** Lines longer than this are failed rows, not parsed (default 16 MiB). */
        public Builder maxLineBytes(long bytes) { return option("max_line_bytes", bytes); }

        public ParseSpec build() {
            return new ParseSpec(Json.write(keys));
        }
    }
}
