package org.dino4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

import org.dino4j.conformance.Conformance;
import org.dino4j.conformance.Conformance.Kind;
import org.dino4j.conformance.Conformance.Report;
import org.dino4j.io.CheckpointException;
import org.dino4j.kernels.Kernels;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "conformance", mixinStandardHelpOptions = true,
        description = {"Checks dino4j's outputs against reference fixtures (Meta's official code, Hugging Face).",
                "Prints, per output, max abs and max relative error and PASS/FAIL.",
                "Exit code: 0 all passed, 1 any failure, 2 a fixture kind not supported yet (and no failure)."})
final class ConformanceCommand implements Callable<Integer> {
    @Parameters(paramLabel = "FILE", arity = "1..*",
            description = "Fixture .safetensors files, or directories searched for them (e.g. ../shared/fixtures).")
    List<Path> files;

    @Option(names = "--tolerance", defaultValue = "1e-4", description = "Max abs error allowed (default: ${DEFAULT-VALUE}).")
    double tolerance;

    @Override
    public Integer call() throws IOException {
        List<Path> all = new ArrayList<>();
        for (Path p : files) {
            if (Files.isDirectory(p)) {
                try (Stream<Path> s = Files.walk(p)) {
                    s.filter(f -> f.toString().endsWith(".safetensors") && !f.getParent().resolve("config.json").toFile().exists())
                            .sorted().forEach(all::add);
                }
            } else all.add(p);
        }
        Conformance c = new Conformance(tolerance);
        int failed = 0, unsupported = 0, passed = 0, outputs = 0;
        double worst = 0, worstHead = -1;
        for (Path f : all) {
            Report r;
            try {
                r = c.run(f);
            } catch (CheckpointException | IllegalArgumentException e) {
                System.out.println("FAIL " + f + ": " + e.getMessage());
                failed++;
                continue;
            }
            Conformance.format(r).forEach(System.out::println);
            for (Conformance.Check ch : r.checks()) {
                outputs++;
                switch (r.kind()) { // the heads' depths reach 80 m: they are judged relative to their magnitude
                    case HEADS, HF_HEADS -> worstHead = Math.max(worstHead, ch.maxRel());
                    case LOSSES, TRAIN_STEP, UNSUPPORTED -> { }
                    default -> worst = Math.max(worst, ch.maxAbs());
                }
            }
            if (r.kind() == Kind.UNSUPPORTED) unsupported++;
            else if (r.passed()) passed++;
            else failed++;
        }
        System.out.printf("%d fixture file(s) passed, %d failed, %d unsupported%n", passed, failed, unsupported);
        // the line a newcomer reads first
        System.out.printf(Locale.ROOT, "%s: %d outputs of %d fixture file(s) checked against Meta's and Hugging Face's code, "
                        + "worst backbone max abs error %.1e (bar %.0e)%s; %s%n",
                failed == 0 && unsupported == 0 && passed > 0 ? "CONFORMANCE PASS" : "CONFORMANCE FAIL", outputs, all.size(),
                worst, tolerance, worstHead < 0 ? "" : String.format(Locale.ROOT, ", worst head max rel error %.1e (bar 1e-04)", worstHead),
                Kernels.get().describe());
        return failed > 0 ? 1 : unsupported > 0 ? 2 : 0;
    }
}
