package dev.sash;

/**
 * The call was cancelled: its thread was interrupted ({@link Thread#interrupt()})
 * while the kernel worked, or before. {@code kind()} is {@code "cancelled"}.
 *
 * <p>As Java's interruptible methods do, sash leaves the thread's interrupt
 * status set: the code that catches this decides what the interrupt means
 * (stop, or clear it with {@link Thread#interrupted()} and go on). The kernel
 * asks about the interrupt between chunks of work, at most every 10 ms, so a
 * call shorter than that completes even on an interrupted thread. Nothing
 * the call was given is changed; a result stream whose pull was cancelled
 * goes on where it stopped when it is pulled again.
 */
public class SashCancelledException extends SashException {
    private static final long serialVersionUID = 1L;

    /** A cancellation with the kernel's message. */
    public SashCancelledException(String message) {
        super("cancelled", message);
    }
}
