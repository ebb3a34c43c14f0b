package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Errors say what failed and name the user's path (issue 18, point 5). */
class ErrorMessagesTest {
    @TempDir
    Path dir;

    @Test
    void fileSystemExceptionsSayWhatFailed() throws IOException {
        // tests run as root, where chmod cannot provoke "permission denied": the exceptions the JDK throws, built here
        assertEquals("runs/out: permission denied", Main.message(new AccessDeniedException("runs/out")));
        assertEquals("runs/out: no such file or folder", Main.message(new NoSuchFileException("runs/out")));
        assertEquals("runs/out: not a folder", Main.message(new NotDirectoryException("runs/out")));
        assertEquals("runs/out/a.png: No space left on device",
                Main.message(new FileSystemException("runs/out/a.png", null, "No space left on device")));
        assertEquals("runs/out: Read-only file system", Main.message(new UncheckedIOException(new FileSystemException("runs/out", null, "Read-only file system"))));
        Path file = Files.writeString(dir.resolve("taken"), "x");
        assertEquals(file + ": is a file, not a folder", Main.message(new FileAlreadyExistsException(file.toString())));
        assertEquals("plain message", Main.message(new IllegalArgumentException("plain message")));
    }

    static List<String> tiny(Path dir) throws Exception {
        Path[] wc = PicturesCommandTest.tinyModel(dir);
        return List.of("--weights", wc[0].toString(), "--config", wc[1].toString());
    }

    @Test
    void embedIntoAnExistingFileNamesItAndWritesNothing() throws Exception {
        Path out = Files.writeString(dir.resolve("out"), "not a folder");
        List<String> args = new java.util.ArrayList<>(List.of("embed", PicturesCommandTest.image("rgb.png").toString(), "--output", out.toString()));
        args.addAll(tiny(dir));
        CliTest.Result r = CliTest.run(args.toArray(String[]::new));
        assertEquals(1, r.code(), r.out() + r.err());
        assertEquals("dino4j embed: error: " + out + ": is a file, not a folder", r.err().strip());
        assertEquals("not a folder", Files.readString(out));
    }

    @Test
    void aRefusedRerunNamesTheOptionThatDiffers() throws Exception {
        Path out = dir.resolve("emb");
        CliTest.Result first = CliTest.run(embedTwo(out, "safetensors", "2"));
        assertEquals(0, first.code(), first.out() + first.err());
        String runJson = Files.readString(out.resolve("run.json"));

        CliTest.Result r = CliTest.run(embedTwo(out, "npy", "1"));
        assertEquals(1, r.code(), r.out() + r.err());
        String err = r.err().strip();
        assertTrue(err.startsWith("dino4j embed: error: " + out.resolve("run.json") + ": this folder holds a run with other inputs or options ("), err);
        assertTrue(err.contains("--shard-size: 2 in run.json, 1 now"), err);
        assertTrue(err.contains("--format: [\"safetensors\"] in run.json, [\"npy\"] now"), err);
        assertFalse(err.contains("--weights") || err.contains("INPUT") || err.contains("\n"), err);
        assertEquals(runJson, Files.readString(out.resolve("run.json")));
    }

    private String[] embedTwo(Path out, String format, String shardSize) throws Exception {
        List<String> a = new java.util.ArrayList<>(List.of("embed", PicturesCommandTest.image("rgb.png").toString(),
                PicturesCommandTest.image("baseline.jpg").toString(), "--output", out.toString(), "--resolution", "56",
                "--format", format, "--shard-size", shardSize));
        a.addAll(tiny(dir));
        return a.toArray(String[]::new);
    }
}
