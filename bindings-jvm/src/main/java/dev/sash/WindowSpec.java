package dev.sash;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A windowed aggregation: the same keys as the canonical JSON spec
 * ({@code docs/semantics.md}), checked by the kernel when it runs.
 *
 * <pre>{@code
 * WindowSpec spec = WindowSpec.tumbling("ts", "1m")
 *     .by("host")
 *     .agg("count() as n")
 *     .agg("p99", "quantile(latency, 0.99)")
 *     .build();
 * }</pre>
 */
public final class WindowSpec {
    private final String json;

    private WindowSpec(String json) {
        this.json = json;
    }

    /** A spec from its canonical JSON text, passed to the kernel verbatim. */
    public static WindowSpec fromJson(String json) {
        return new WindowSpec(Objects.requireNonNull(json, "json"));
    }

    /** Tumbling windows of length {@code every} ("1m", "1h30m", or "100" on integer time). */
    public static Builder tumbling(String time, String every) {
        return builder(time).every(every);
    }

    /** Tumbling windows of length {@code every}. */
    public static Builder tumbling(String time, Duration every) {
        return builder(time).every(every);
    }

    /** Hopping windows of length {@code period} starting every {@code every}. */
    public static Builder hopping(String time, String every, String period) {
        return builder(time).every(every).period(period);
    }

    /** Hopping windows of length {@code period} starting every {@code every}. */
    public static Builder hopping(String time, Duration every, Duration period) {
        return builder(time).every(every).period(period);
    }

    /** Session windows, per key, closed by a silence of at least {@code gap}. */
    public static Builder session(String time, String gap) {
        return builder(time).sessionGap(gap);
    }

    /** Session windows, per key, closed by a silence of at least {@code gap}. */
    public static Builder session(String time, Duration gap) {
        return builder(time).sessionGap(gap);
    }

    /** A builder with only the time column set. */
    public static Builder builder(String time) {
        return new Builder(time);
    }

    /** The canonical JSON text of the spec. */
    public String toJson() {
        return json;
    }

    @Override
    public String toString() {
        return json;
    }

    /** Builds a {@link WindowSpec}; each method sets the JSON key of the same name. */
    public static final class Builder {
        private final Map<String, Object> keys = new LinkedHashMap<>();
        private final List<String> aggs = new ArrayList<>();

        private Builder(String time) {
            keys.put("time", Objects.requireNonNull(time, "time"));
        }

        public Builder every(String every) { keys.put("every", every); return this; }
        public Builder period(String period) { keys.put("period", period); return this; }
        public Builder offset(String offset) { keys.put("offset", offset); return this; }
        public Builder sessionGap(String gap) { keys.put("session_gap", gap); return this; }
        public Builder every(Duration every) { return every(Json.duration(every)); }
        public Builder period(Duration period) { return period(Json.duration(period)); }
        public Builder offset(Duration offset) { return offset(Json.duration(offset)); }
        public Builder sessionGap(Duration gap) { return sessionGap(Json.duration(gap)); }
        /** "left" (default): windows are [start, end); "right": (start, end]. */
        public Builder closed(String closed) { keys.put("closed", closed); return this; }
        /** "error" (default) or "drop". */
        public Builder nullTime(String nullTime) { keys.put("null_time", nullTime); return this; }
        public Builder by(String... columns) { keys.put("by", Arrays.asList(columns)); return this; }
        public Builder by(List<String> columns) { keys.put("by", List.copyOf(columns)); return this; }
        /** An aggregation expression, e.g. {@code "mean(latency) as avg"}. */
        public Builder agg(String expression) { aggs.add(Objects.requireNonNull(expression)); return this; }
        /** An aggregation under an alias, e.g. {@code agg("p99", "quantile(latency, 0.99)")}. */
        public Builder agg(String alias, String expression) { aggs.add(Json.aliased(expression, alias)); return this; }
        public Builder aggs(String... expressions) { aggs.addAll(Arrays.asList(expressions)); return this; }

        public WindowSpec build() {
            Map<String, Object> all = new LinkedHashMap<>(keys);
            all.put("aggs", List.copyOf(aggs));
            return new WindowSpec(Json.write(all));
        }
    }
}
