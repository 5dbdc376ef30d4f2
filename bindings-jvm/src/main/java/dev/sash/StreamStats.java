package dev.sash;

/**
 * What a {@link WindowStream} or {@link RollingStream} has seen.
 *
 * @param rowsIn rows pushed, late ones and dropped null times included
 * @param rowsLate rows that came too late to count (see {@code takeLate})
 * @param nullTimesDropped rows left out for a null time under {@code null_time = "drop"}
 * @param openWindows open states: (keys, pane) of tumbling and hopping windows,
 *     (keys, session) of sessions; for a rolling stream, the rows whose result is not returned yet
 * @param stateBytes bytes the open states and the untaken late rows hold
 */
public record StreamStats(long rowsIn, long rowsLate, long nullTimesDropped, long openWindows, long stateBytes) {}
