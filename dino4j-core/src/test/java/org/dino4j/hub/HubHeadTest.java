package org.dino4j.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;

import org.dino4j.io.TensorEntry;
import org.dino4j.io.TorchPthWriter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HubHeadTest {
    static final String META = "https://dl.fbaipublicfiles.com/dinov2";

    @TempDir
    Path dir;
    DownloaderTest.Server server;

    @AfterEach
    void stop() {
        if (server != null) server.http.stop(0);
    }

    @Test
    void theZooHasEveryReleasedHead() {
        List<HubHead> all = HubHead.all(META);
        assertEquals(8 * 2 + 4 * (6 + 4), all.size());
        assertEquals(all.size(), new HashSet<>(all.stream().map(HubHead::name).toList()).size(), "names are unique");
        assertEquals(all.size(), new HashSet<>(all.stream().map(HubHead::fileName).toList()).size(), "file names are unique");
        Map<HubHead.Kind, Long> byKind = new java.util.EnumMap<>(HubHead.Kind.class);
        for (HubHead h : all) byKind.merge(h.kind(), 1L, Long::sum);
        assertEquals(Map.of(HubHead.Kind.CLASSIFIER, 16L, HubHead.Kind.DEPTH, 24L, HubHead.Kind.SEGMENTATION, 16L), byKind);
        for (HubHead h : all) {
            assertEquals(h.name() + "_head.pth", h.fileName());
            assertTrue(h.url().toString().endsWith("/" + h.fileName()), h.url().toString());
            assertEquals(h.kind() == HubHead.Kind.SEGMENTATION, h.config() != null, h.name());
        }
    }

    /** URLs as the official code and notebooks spell them (the notebooks' logs show two of them downloaded). */
    @Test
    void urlsFollowMetasLayout() {
        assertEquals(META + "/dinov2_vits14/dinov2_vits14_linear_head.pth", HubHead.of("dinov2_vits14_linear", META).url().toString());
        HubHead reg = HubHead.of("dinov2_vitl14_reg4_linear4", META);
        assertEquals(META + "/dinov2_vitl14/dinov2_vitl14_reg4_linear4_head.pth", reg.url().toString());
        assertEquals("dinov2_vitl14_reg", reg.backbone());
        assertEquals(4, reg.layers());
        HubHead dpt = HubHead.of("dinov2_vits14_nyu_dpt", META); // depth_estimation.ipynb's log
        assertEquals(META + "/dinov2_vits14/dinov2_vits14_nyu_dpt_head.pth", dpt.url().toString());
        assertEquals(HubHead.Kind.DEPTH, dpt.kind());
        assertEquals("nyu", dpt.dataset());
        assertEquals(META + "/dinov2_vitb14/dinov2_vitb14_kitti_linear_head.pth", HubHead.of("dinov2_vitb14_kitti_linear", META).url().toString());
        HubHead ms = HubHead.of("dinov2_vits14_voc2012_ms", META); // semantic_segmentation.ipynb's log
        assertEquals(META + "/dinov2_vits14/dinov2_vits14_voc2012_ms_head.pth", ms.url().toString());
        assertEquals(META + "/dinov2_vits14/dinov2_vits14_voc2012_ms_config.py", ms.config().url().toString());
        assertEquals(List.of(ms.config(), ms), ms.files());
        HubHead g = HubHead.of("dinov2_vitg14_ade20k_linear", "http://mirror.example/d/");
        assertEquals("http://mirror.example/d/dinov2_vitg14/dinov2_vitg14_ade20k_linear_head.pth", g.url().toString());
        assertEquals("ms", ms.variant());
        assertEquals(1, g.layers());
    }

    @Test
    void torchHubEntryPointsAreAliases() {
        assertEquals("dinov2_vits14_linear4", HubHead.of("dinov2_vits14_lc", META).name()); // layers=4 is the hub default
        assertEquals("dinov2_vitg14_reg4_linear4", HubHead.of("dinov2_vitg14_reg_lc", META).name());
        assertEquals("dinov2_vitb14_nyu_linear4", HubHead.of("dinov2_vitb14_ld", META).name());
        assertEquals("dinov2_vitl14_nyu_dpt", HubHead.of("dinov2_vitl14_dd", META).name());
        assertTrue(HubHead.isHeadName("dinov2_vits14_dd"));
        assertFalse(HubHead.isHeadName("dinov2_vits14"));
        assertFalse(HubHead.isHeadName("dinov2_vits14_reg4_nyu_dpt"), "no depth heads for register backbones");
        var e = assertThrows(IllegalArgumentException.class, () -> HubHead.of("dinov2_vits14_coco_ms", META));
        assertTrue(e.getMessage().startsWith("unknown head 'dinov2_vits14_coco_ms'; heads are named like"), e.getMessage());
    }

    @Test
    void classifierSizesFollowTheOfficialLinearLayer() {
        assertEquals(1000L * 2 * 384 + 1000, HubHead.of("dinov2_vits14_linear", META).parameters());
        assertEquals(1000L * 5 * 1536 + 1000, HubHead.of("dinov2_vitg14_reg4_linear4", META).parameters());
        assertEquals("~3 MB", HubHead.of("dinov2_vits14_linear", META).approxSize());
        assertEquals(-1, HubHead.of("dinov2_vits14_nyu_dpt", META).parameters());
        assertEquals("?", HubHead.of("dinov2_vits14_nyu_dpt", META).approxSize());
    }

    /** An ImageNet classifier's state dict as torch.save writes it: weight [1000, in], bias [1000]. */
    static byte[] classifier(Path file, int in) throws IOException {
        float[] w = new float[1000 * in], b = new float[1000];
        for (int i = 0; i < w.length; i++) w[i] = (i % 97) * 1e-3f;
        TorchPthWriter.write(file, List.of(TensorEntry.of("weight", new long[] {1000, in}, w), TensorEntry.of("bias", new long[] {1000}, b)));
        return Files.readAllBytes(file);
    }

    HubHead served(String name) {
        HubHead h = HubHead.of(name, server.uri("/dinov2").toString());
        return h;
    }

    @Test
    void aClassifierDownloadIsCheckedForItsShape() throws IOException {
        server = new DownloaderTest.Server(classifier(dir.resolve("src.pth"), 768));
        HubCache cache = new HubCache(dir.resolve("cache"), dir.resolve("torch"), dir.resolve("hf"));
        HubHead h = served("dinov2_vits14_linear");
        Path p = new Downloader(cache).fetch(h);
        assertEquals(cache.dir().resolve("dinov2_vits14_linear_head.pth"), p);
        assertArrayEquals(server.data, Files.readAllBytes(p));
        assertEquals(List.of(cache.target(h), cache.torchCheckpoints().resolve(h.fileName())), cache.places(h));
        assertEquals(p, new Downloader(cache).fetch(h)); // cached: no second request
        assertEquals(1, server.requests.get());

        HubHead four = served("dinov2_vits14_linear4"); // expects [1000, 1920]
        var e = assertThrows(DownloadException.class, () -> new Downloader(cache).download(four));
        assertEquals(four.url() + ": not a usable dinov2_vits14_linear4 head: expected weight [1000, 1920] and bias [1000], got "
                + "bias [1000], weight [1000, 768] (the download was removed)", e.getMessage());
        assertFalse(Files.exists(cache.target(four)));
        assertFalse(Files.exists(cache.partial(four)));
    }

    @Test
    void aHeadInTorchHubsCacheIsFound() throws IOException {
        HubCache cache = new HubCache(dir.resolve("cache"), dir.resolve("torch"), dir.resolve("hf"));
        HubHead h = HubHead.of("dinov2_vitb14_nyu_dpt", META);
        assertTrue(cache.find(h).isEmpty());
        Path t = Files.createDirectories(cache.torchCheckpoints()).resolve("dinov2_vitb14_nyu_dpt_head.pth");
        Files.writeString(t, "x");
        assertEquals(t, cache.find(h).orElseThrow());
    }

    @Test
    void segmentationHeadAndConfigDownloadTogether() throws IOException {
        byte[] pth = Files.readAllBytes(DownloaderTest.fixtures().resolve("official/official_vit_tiny.pth")); // any torch zip
        byte[] cfg = "norm_cfg = dict(type='SyncBN', requires_grad=True)\nmodel = dict(type='EncoderDecoder')\n".getBytes(StandardCharsets.UTF_8);
        server = new DownloaderTest.Server(pth);
        HubCache cache = new HubCache(dir.resolve("cache"), dir.resolve("torch"), dir.resolve("hf"));
        HubHead h = served("dinov2_vits14_ade20k_ms");
        server.data = cfg;
        Path c = new Downloader(cache).fetch(h.config());
        assertEquals("dinov2_vits14_ade20k_ms_config.py", c.getFileName().toString());
        server.data = pth;
        Path p = new Downloader(cache).fetch(h);
        assertArrayEquals(pth, Files.readAllBytes(p));
        assertArrayEquals(cfg, Files.readAllBytes(c));

        // a page of HTML or a truncated archive is no head
        HubHead d = served("dinov2_vits14_kitti_dpt");
        server.data = java.util.Arrays.copyOf(pth, pth.length - 100);
        var e = assertThrows(DownloadException.class, () -> new Downloader(cache).download(d));
        assertTrue(e.getMessage().startsWith(d.url() + ": not a usable dinov2_vits14_kitti_dpt head: not a PyTorch zip checkpoint"), e.getMessage());
        assertFalse(Files.exists(cache.target(d)));
        server.data = new byte[] {(byte) 0xff, (byte) 0xfe, 0};
        var f = assertThrows(DownloadException.class, () -> new Downloader(cache).download(HubHead.of("dinov2_vitb14_voc2012_linear", server.uri("/x").toString()).config()));
        assertTrue(f.getMessage().contains(": not a config file: not UTF-8 text (the download was removed)"), f.getMessage());
    }

    @Test
    void configChecks() throws IOException {
        HubHead.Config c = HubHead.of("dinov2_vits14_ade20k_linear", META).config();
        Path f = dir.resolve("c.py");
        Files.writeString(f, "x = 1\n");
        assertNull(c.problem(f));
        Files.writeString(f, "  \n");
        assertEquals("not a config file: empty", c.problem(f));
        Files.write(f, new byte[] {'a', 0, 'b'});
        assertEquals("not a config file: holds NUL bytes", c.problem(f));
        assertThrows(IllegalArgumentException.class, () -> new HubHead("x", "dinov2_vits14", HubHead.Kind.DEPTH, "nyu", "dpt",
                java.net.URI.create(META + "/x_head.pth"), "x_head.pth", c, null, null));
    }
}
