package dev.sash;

import java.util.List;
import java.util.Map;

/** The little JSON writer the spec builders need (strings, numbers, booleans, lists, maps). */
final class Json {
    private Json() {}

    /**
     * A {@link java.time.Duration} as a spec duration, to the nanosecond
     * ("-2s500000000ns"): seconds and nanoseconds written apart, so a duration
     * too long for the kernel's 64-bit nanoseconds is its error, not an
     * ArithmeticException here.
     */
    static String duration(java.time.Duration duration) {
        java.time.Duration magnitude = duration.abs();
        return (duration.isNegative() ? "-" : "") + magnitude.getSeconds() + "s" + magnitude.getNano() + "ns";
    }

    static String write(Object value) {
        StringBuilder out = new StringBuilder();
        write(out, value);
        return out.toString();
    }

    private static void write(StringBuilder out, Object value) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof String s) {
            string(out, s);
        } else if (value instanceof Number || value instanceof Boolean) {
            out.append(value);
        } else if (value instanceof Map<?, ?> map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : map.entrySet()) {
                if (!first) out.append(',');
                first = false;
                string(out, String.valueOf(e.getKey()));
                out.append(':');
                write(out, e.getValue());
            }
            out.append('}');
        } else if (value instanceof List<?> list) {
            out.append('[');
            for (int i = 0; i < list.size(); i++) {
                if (i > 0) out.append(',');
                write(out, list.get(i));
            }
            out.append(']');
        } else {
            throw new IllegalArgumentException("cannot write a " + value.getClass().getName() + " into a sash spec");
        }
    }

    private static void string(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
                }
            }
        }
        out.append('"');
    }

    /** An aggregation expression with its alias, quoted when it is not a plain identifier. */
    static String aliased(String expression, String alias) {
        boolean identifier = !alias.isEmpty() && (Character.isLetter(alias.charAt(0)) || alias.charAt(0) == '_')
                && alias.chars().allMatch(c -> Character.isLetterOrDigit(c) || c == '_');
        return expression + " as " + (identifier ? alias : "\"" + alias.replace("\"", "\"\"") + "\"");
    }
}
