package org.dino4j.cli;

import org.dino4j.kernels.Parallel;

import picocli.CommandLine.Option;

/** --threads, declared once for every command that computes. */
public final class ThreadsOption {
    @Option(names = "--threads", paramLabel = "N", description = "Compute threads (default: the number of cores).")
    Integer threads;

    /** Sizes the compute pool when --threads was given. */
    void apply() {
        if (threads != null) Parallel.setThreads(threads);
    }
}
