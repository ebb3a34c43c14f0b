package org.dino4j.cli;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

import picocli.CommandLine.Model.CommandSpec;

/**
 * What a training command says when Ctrl-C (SIGINT) or a plain kill (SIGTERM) stops it: one line naming what was
 * kept and the command that goes on. On stdout: the launcher pipes stderr through a filter that the same Ctrl-C ends.
 * Checkpoints are written atomically (whole or absent); one being written while the run's saving lock is held is waited for.
 */
final class StopNotice extends Thread {
    /** Message of the stop; may read the run folder. */
    interface Message {
        String get() throws IOException;
    }

    private final ReentrantLock saving;
    private final Message message;

    private StopNotice(ReentrantLock saving, Message message) {
        super("dino4j-stop-notice");
        this.saving = saving;
        this.message = message;
    }

    /** Registered as a shutdown hook until {@link #remove}. */
    static StopNotice install(Message message) {
        return install(new ReentrantLock(), message);
    }

    /** As {@link #install(Message)}, waiting for {@code saving} (held while a checkpoint is written) before it speaks. */
    static StopNotice install(ReentrantLock saving, Message message) {
        StopNotice n = new StopNotice(saving, message);
        Runtime.getRuntime().addShutdownHook(n);
        return n;
    }

    /** Unregisters (the command finished or failed on its own). */
    void remove() {
        try {
            Runtime.getRuntime().removeShutdownHook(this);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running: it says what was kept
        }
    }

    @Override
    public void run() {
        boolean locked = false;
        try {
            locked = saving.tryLock(60, TimeUnit.SECONDS);
            System.out.println();
            System.out.println(message.get());
        } catch (IOException | InterruptedException | RuntimeException e) {
            System.out.println("stopped (" + e.getMessage() + ")");
        } finally {
            System.out.flush();
            if (locked) saving.unlock();
        }
    }

    /** The line: the step reached, the checkpoint kept (null: none yet, the first due at {@code every}), how to go on. */
    static String message(long step, java.nio.file.Path kept, long keptStep, int every, String resume) {
        if (kept == null)
            return "stopped at step " + step + ", before the first checkpoint (step " + every + "): nothing kept; " + resume
                    + " starts over";
        return "stopped at step " + step + "; kept " + kept + " (step " + keptStep + (keptStep < step ? "; the " + (step - keptStep)
                + " steps after it are redone" : "") + "). Resume with: " + resume;
    }

    /**
     * The command line this command was given, as a shell reads it back, with {@code flag} added if it is not there
     * (null: none). The program is how the launcher was called (DINO4J_LAUNCHER), else "dino4j".
     */
    static String command(CommandSpec spec, String flag) {
        List<String> given = spec.commandLine().getParseResult().originalArgs();
        int from = Math.max(0, given.indexOf(spec.name()));
        List<String> words = new ArrayList<>();
        String launcher = System.getenv("DINO4J_LAUNCHER");
        words.add(launcher == null || launcher.isBlank() ? spec.root().name() : launcher);
        words.addAll(given.subList(from, given.size()));
        if (flag != null && !words.contains(flag)) words.add(flag);
        return String.join(" ", words.stream().map(StopNotice::shellQuote).toList());
    }

    /** A word as a POSIX shell reads it back: bare when it is plain, else in single quotes. */
    static String shellQuote(String w) {
        return !w.isEmpty() && w.matches("[A-Za-z0-9_./=,:@%+-]+") ? w : "'" + w.replace("'", "'\\''") + "'";
    }
}
