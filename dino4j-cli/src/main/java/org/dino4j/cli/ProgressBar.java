package org.dino4j.cli;

import java.util.Locale;

/**
 * Progress on stderr: done/total, items/s over the run so far, ETA, failures. On a terminal one line redrawn at
 * most 4 times a second; otherwise (logs, CI) a line every 10 s.
 */
final class ProgressBar {
    private final String what, unit;
    private final boolean tty = System.console() != null;
    private final long t0 = System.nanoTime();
    private long first = -1, last, lastPrint;
    private String line = "";

    ProgressBar(String what, String unit) {
        this.what = what;
        this.unit = unit;
    }

    synchronized void update(long done, long total, long failed) {
        update(done, total, failed, "");
    }

    /** {@code extra} (e.g. the current losses) is appended to the line. */
    synchronized void update(long done, long total, long failed, String extra) {
        update(done, total, failed, extra, Double.NaN);
    }

    /** With the caller's own ETA in seconds (e.g. one that counts work besides the items; NaN: from the rate). */
    synchronized void update(long done, long total, long failed, String extra, double etaSeconds) {
        if (first < 0) first = done; // resumed runs: the rate counts this run's work only
        last = done;
        long now = System.nanoTime();
        if (done < total && now - lastPrint < (tty ? 250_000_000L : 10_000_000_000L)) return;
        lastPrint = now;
        double s = (now - t0) / 1e9, rate = s > 0 ? (done - first) / s : 0;
        String eta = !Double.isNaN(etaSeconds) ? duration(etaSeconds) : rate > 0 ? duration((total - done) / rate) : "?";
        line = String.format(Locale.ROOT, "%s %d/%d %s (%.1f%%)  %.1f %s/s  ETA %s%s", what, done, total, unit,
                total == 0 ? 100.0 : 100.0 * done / total, rate, unit, eta, failed > 0 ? "  failed " + failed : "") + extra;
        if (tty) System.err.print("\r" + line + "   ");
        else System.err.println(line);
        System.err.flush();
    }

    void finish() {
        if (tty && !line.isEmpty()) System.err.println();
    }

    static String duration(double sec) {
        long s = Math.round(sec);
        if (s >= 3600) return String.format(Locale.ROOT, "%dh%02dm", s / 3600, s % 3600 / 60);
        if (s >= 60) return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        return s + "s";
    }
}
