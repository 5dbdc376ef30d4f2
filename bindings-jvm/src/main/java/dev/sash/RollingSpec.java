package dev.sash;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A rolling aggregation: one output row per input row, over the rows of the
 * same key with time in (t - period, t] (a duration such as "5m") or over the
 * last N rows ("100i"). Same keys as the canonical JSON spec.
 *
 * <pre>{@code
 * RollingSpec spec = RollingSpec.builder("ts", "5m").by("host").agg("mean(latency) as avg_5m").build();
 * }</pre>
 */
public final class RollingSpec {
    private final String json;

    private RollingSpec(String json) {
        this.json = json;
    }

    /** A spec from its canonical JSON text, passed to the kernel verbatim. */
    public static RollingSpec fromJson(String json) {
        return new RollingSpec(Objects.requireNonNull(json, "json"));
    }

    public static Builder builder(String time, String period) {
        return new Builder(time, period);
    }

    /** Rolling windows over the rows of the last {@code period} of time. */
    public static Builder builder(String time, java.time.Duration period) {
        return new Builder(time, Json.duration(Objects.requireNonNull(period, "period")));
    }

    /** The canonical JSON text of the spec. */
    public String toJson() {
        return json;
    }

    @Override
    public String toString() {
        return json;
    }

    /** Builds a {@link RollingSpec}; each method sets the JSON key of the same name. */
    public static final class Builder {
        private final Map<String, Object> keys = new LinkedHashMap<>();
        private final List<String> aggs = new ArrayList<>();

        private Builder(String time, String period) {
            keys.put("time", Objects.requireNonNull(time, "time"));
            keys.put("period", Objects.requireNonNull(period, "period"));
        }

        /** "right" (default), "left", "both" or "none". */
        public Builder closed(String closed) { keys.put("closed", closed); return this; }
        public Builder nullTime(String nullTime) { keys.put("null_time", nullTime); return this; }
        public Builder by(String... columns) { keys.put("by", Arrays.asList(columns)); return this; }
        public Builder by(List<String> columns) { keys.put("by", List.copyOf(columns)); return this; }
        public Builder agg(String expression) { aggs.add(Objects.requireNonNull(expression)); return this; }
        public Builder agg(String alias, String expression) { aggs.add(Json.aliased(expression, alias)); return this; }
        public Builder aggs(String... expressions) { aggs.addAll(Arrays.asList(expressions)); return this; }

        public RollingSpec build() {
            Map<String, Object> all = new LinkedHashMap<>(keys);
            all.put("aggs", List.copyOf(aggs));
            return new RollingSpec(Json.write(all));
        }
    }
}
