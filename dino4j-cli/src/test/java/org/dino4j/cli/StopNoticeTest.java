package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.dino4j.cli.CliTest.Result;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The line a stopped training command prints (train's is run for real in TrainCommandTest), and copy-detector
 * stopped by SIGTERM (Ctrl-C's SIGINT runs the same hook): it names its checkpoint, and the same command resumes.
 */
class StopNoticeTest {
    @Test
    void lineNamesTheCheckpointAndTheResumeCommand() {
        String cmd = "dino4j train data --output runs/a --resume";
        assertEquals("stopped at step 437; kept runs/a/ckpt-0000400.safetensors (step 400; the 37 steps after it are redone). "
                + "Resume with: " + cmd, TrainCommand.stopMessage(437, Path.of("runs/a/ckpt-0000400.safetensors"), 50, cmd));
        assertEquals("stopped at step 400; kept runs/a/ckpt-0000400.safetensors (step 400). Resume with: " + cmd,
                TrainCommand.stopMessage(400, Path.of("runs/a/ckpt-0000400.safetensors"), 50, cmd));
        assertEquals("stopped at step 12, before the first checkpoint (step 50): nothing kept; " + cmd + " starts over",
                TrainCommand.stopMessage(12, null, 50, cmd));
        assertEquals("plain/path=1,x", StopNotice.shellQuote("plain/path=1,x"));
        assertEquals("'my images'", StopNotice.shellQuote("my images"));
        assertEquals("'it'\\''s'", StopNotice.shellQuote("it's"));
    }

    @Test
    void copyDetectorSaysWhatItKept(@TempDir Path dir) throws Exception {
        assertTrue(Files.exists(TrainCommandTest.FMNIST), TrainCommandTest.FMNIST + " is missing: apt-get install dataset-fashion-mnist");
        Path out = dir.resolve("cd.safetensors"), ckpt = dir.resolve("cd.safetensors.ckpt");
        List<String> args = List.of("copy-detector", TrainCommandTest.FMNIST.toString(), "--output", out.toString(), "--steps", "400",
                "--batch-size", "32", "--threads", "1");
        Path log = dir.resolve("child.log");
        var m = TrainCommandTest.stopLine(TrainCommandTest.child(log, args), ckpt, log);
        long stoppedAt = Long.parseLong(m.group(1)), kept = Long.parseLong(m.group(3));
        assertTrue(kept % 100 == 0 && kept >= 100 && kept <= stoppedAt && stoppedAt < 400, m.group());
        assertEquals(ckpt.toString(), m.group(2));
        assertEquals("dino4j " + String.join(" ", args), m.group(4).trim(), "the same command, no flag added");
        Result r = CliTest.run(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("resuming from " + ckpt), r.err());
        assertTrue(Files.exists(out) && !Files.exists(ckpt));
    }
}
