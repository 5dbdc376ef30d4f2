package dev.sash;

/**
 * The spec or the arguments are wrong: an invalid spec, duration, function or
 * expression, a column that is not in the input or has the wrong type, a null
 * argument. The message names the offending value.
 */
public class SashSpecException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;
    private final String kind;

    /** An exception of the given kind (the conformance corpus' kind names) and message. */
    public SashSpecException(String kind, String message) {
        super(message);
        this.kind = kind;
    }

    /** The error kind: "invalid_spec", "invalid_duration", "unknown_column", "wrong_type", ... */
    public String kind() {
        return kind;
    }
}
