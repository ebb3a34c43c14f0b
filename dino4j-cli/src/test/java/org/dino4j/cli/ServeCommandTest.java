package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.dino4j.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

class ServeCommandTest {
    @TempDir
    Path dir;

    @Test
    void servesATinyRandomModelWithRandomHeadsUntilStopped() throws Exception {
        Path cfg = Files.writeString(dir.resolve("tiny.json"), "{\"img_size\":28,\"patch_size\":14,\"embed_dim\":32,\"depth\":4,\"num_heads\":2,\"init_values\":1.0}");
        ServeCommand cmd = new ServeCommand();
        int[] code = {-1};
        Thread t = Thread.ofPlatform().start(() -> code[0] = new CommandLine(cmd).execute("--config", cfg.toString(), "--random-weights", "1",
                "--random-heads", "2", "--port", "0", "--vectors", "cls+patchmean", "--token", "t0k", "--roots", dir.toString()));
        long until = System.nanoTime() + 60_000_000_000L;
        while (cmd.server == null && t.isAlive() && System.nanoTime() < until) Thread.sleep(20);
        assertTrue(cmd.server != null, "the server started");
        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + cmd.server.port() + "/health")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        Map<String, Object> h = Json.parseObject(r.body());
        assertEquals(32L, h.get("dim"));
        assertEquals(true, h.get("write_token"));
        assertEquals(java.util.List.of("classify", "depth", "segment"), h.get("heads"));
        assertEquals("cls+patchmean", ((Map<?, ?>) h.get("index")).get("vectors"));
        cmd.stop.countDown();
        t.join(30_000);
        assertEquals(0, code[0]);
    }

    @Test
    void headsAndRandomHeadsExcludeEachOther() {
        CliTest.Result r = CliTest.run("serve", "--model", "dinov2_vits14", "--random-weights", "1", "--heads", "--random-heads", "1", "--port", "0");
        assertEquals(1, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("give --heads or --random-heads, not both"), r.err());
    }

    /** serve --index DIR --add FOLDER: the folder's images land in the persistent index; a restart finds them and skips them. */
    @Test
    void addsAFolderToAPersistentIndexAndAResumedStartSkipsWhatIsThere() throws Exception {
        Path cfg = Files.writeString(dir.resolve("tiny.json"), "{\"img_size\":28,\"patch_size\":14,\"embed_dim\":32,\"depth\":2,\"num_heads\":2,\"init_values\":1.0}");
        Path photos = Files.createDirectories(dir.resolve("photos")), ix = dir.resolve("ix");
        Path images = CliTest.fixtures().resolve("extra/images");
        for (String p : new String[] {"rgb.png", "gray.png", "exif_rot90.jpg", "palette.png"}) Files.copy(images.resolve(p), photos.resolve(p));
        for (int run = 0; run < 2; run++) {
            ServeCommand cmd = new ServeCommand();
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            java.io.PrintStream old = System.out;
            int[] code = {-1};
            Thread t;
            System.setOut(new java.io.PrintStream(out, true));
            try {
                t = Thread.ofPlatform().start(() -> code[0] = new CommandLine(cmd).execute("--config", cfg.toString(), "--random-weights", "1",
                        "--port", "0", "--index", ix.toString(), "--add", photos.toString()));
                long until = System.nanoTime() + 60_000_000_000L;
                while (!out.toString().contains("--add:") && t.isAlive() && System.nanoTime() < until) Thread.sleep(20);
            } finally {
                System.setOut(old);
            }
            String log = out.toString();
            assertTrue(log.contains(run == 0 ? "--add: 4 added, 0 already indexed, 0 failed" : "--add: 0 added, 4 already indexed, 0 failed"), log);
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + cmd.server.port() + "/api/search?id=rgb.png&k=3")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            assertEquals(3, ((java.util.List<?>) Json.parseObject(r.body()).get("hits")).size(), r.body());
            assertTrue(log.contains("index " + ix + ": clean"), log);
            cmd.stop.countDown();
            t.join(30_000);
            assertEquals(0, code[0]);
        }
    }
}
