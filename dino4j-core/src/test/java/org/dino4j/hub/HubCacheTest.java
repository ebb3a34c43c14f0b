package org.dino4j.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

import org.dino4j.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HubCacheTest {
    @TempDir
    Path dir;

    @Test
    void theEightHubModels() {
        var all = HubModel.all(HubModel.DEFAULT_BASE_URL);
        assertEquals(ModelConfig.HUB_NAMES, all.stream().map(HubModel::name).toList());
        HubModel s = HubModel.of("dinov2_vits14", HubModel.DEFAULT_BASE_URL);
        assertEquals("https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_pretrain.pth", s.url().toString());
        assertEquals("dinov2_vits14_pretrain.pth", s.fileName());
        assertEquals("facebook/dinov2-small", s.hfRepo());
        assertEquals("~88 MB", s.approxSize());
        HubModel g = HubModel.of("dinov2_vitg14_reg", "http://127.0.0.1:9/mirror/");
        assertEquals("http://127.0.0.1:9/mirror/dinov2_vitg14/dinov2_vitg14_reg4_pretrain.pth", g.url().toString());
        assertEquals("facebook/dinov2-with-registers-giant", g.hfRepo());
        assertTrue(g.approxSize().matches("~4\\.\\d GB"), g.approxSize());
        assertEquals(ModelConfig.preset("dinov2_vitg14_reg"), g.config());
        assertTrue(HubModel.of("dinov2_vitb14").sha256() == null);
        var e = assertThrows(IllegalArgumentException.class, () -> HubModel.of("dinov2_vitx14"));
        assertTrue(e.getMessage().contains("dinov2_vits14"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> s.withSha256("abc"));
        assertEquals("ab".repeat(32), s.withSha256("AB".repeat(32)).sha256());
    }

    @Test
    void rootsFollowTheEnvironmentLikeTorchAndHuggingFace() {
        Path home = Path.of("/home/u");
        HubCache d = HubCache.fromEnvironment(Map.of(), home);
        assertEquals(Path.of("/home/u/.cache/dino4j/checkpoints"), d.dir());
        assertEquals(Path.of("/home/u/.cache/torch/hub/checkpoints"), d.torchCheckpoints());
        assertEquals(Path.of("/home/u/.cache/huggingface/hub"), d.hfHub());
        HubCache x = HubCache.fromEnvironment(Map.of("XDG_CACHE_HOME", "/x"), home);
        assertEquals(new HubCache(Path.of("/x/dino4j/checkpoints"), Path.of("/x/torch/hub/checkpoints"),
                Path.of("/x/huggingface/hub")), x);
        HubCache e = HubCache.fromEnvironment(Map.of("DINO4J_HOME", "/d", "TORCH_HOME", "~/t", "HF_HOME", "/h"), home);
        assertEquals(new HubCache(Path.of("/d/checkpoints"), Path.of("/home/u/t/hub/checkpoints"), Path.of("/h/hub")), e);
        assertEquals(Path.of("/c"), HubCache.fromEnvironment(Map.of("HF_HOME", "/h", "HF_HUB_CACHE", "/c"), home).hfHub());
    }

    @Test
    void findLooksInOursThenTorchThenHuggingFace() throws IOException {
        HubCache c = new HubCache(dir.resolve("own"), dir.resolve("torch/hub/checkpoints"), dir.resolve("hf/hub"));
        HubModel m = HubModel.of("dinov2_vits14");
        assertEquals(Optional.empty(), c.find(m));

        Path repo = dir.resolve("hf/hub/models--facebook--dinov2-small");
        Path old = Files.createDirectories(repo.resolve("snapshots/aaa")), main = Files.createDirectories(repo.resolve("snapshots/bbb"));
        Files.createDirectories(repo.resolve("snapshots/ccc")); // incomplete: no weights
        for (Path s : new Path[] {old, main}) {
            Files.writeString(s.resolve("config.json"), "{}");
            Files.writeString(s.resolve("model.safetensors"), "x");
        }
        assertEquals(Optional.of(old), c.find(m)); // without refs/main: the first complete one by name
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), "bbb\n");
        assertEquals(Optional.of(main), c.find(m));
        assertEquals(Optional.empty(), c.find(HubModel.of("dinov2_vits14_reg"))); // another repo

        Path torch = Files.createDirectories(c.torchCheckpoints()).resolve("dinov2_vits14_pretrain.pth");
        Files.writeString(torch, "t");
        assertEquals(Optional.of(torch), c.find(m));
        Path own = Files.createDirectories(c.dir()).resolve("dinov2_vits14_pretrain.pth");
        Files.writeString(own, "o");
        assertEquals(Optional.of(own), c.find(m));
        Files.writeString(c.dir().resolve("dinov2_vitb14_pretrain.pth.part"), "half");
        assertEquals(Optional.empty(), c.find(HubModel.of("dinov2_vitb14"))); // a part is never a hit
        assertEquals(3, c.places(m).size());
    }
}
