package dev.sash;

/**
 * A sash failure that is not the caller's spec: null times with
 * {@code null_time: "error"}, an overflowing result, malformed input data, a
 * call beyond one of sash's resource limits ({@code "resource_limit"}: too
 * many windows, ...), a line that did not parse under {@code on_error:
 * "raise"}, a call cancelled by {@link Thread#interrupt()} (the subclass
 * {@link SashCancelledException}), or a bug in sash ({@code kind() ==
 * "internal"}; the JVM keeps running). {@link Sash#errorKinds()} lists every
 * kind name.
 */
public class SashException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String kind;

    /** An exception of the given kind (the conformance corpus' kind names) and message. */
    public SashException(String kind, String message) {
        super(message);
        this.kind = kind;
    }

    /** The error kind: "null_time", "overflow", "invalid_input", "invalid_array", "released", "parse", "arrow", "resource_limit", "cancelled", "internal". */
    public String kind() {
        return kind;
    }
}
