package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.dino4j.cli.CliTest.Result;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `dino4j search`: an `embed` folder as the index, queries through the index's own model and preprocessing. */
class SearchCommandTest {
    @Test
    void findsEachQueryItselfFirstAndReportsBadQueries(@TempDir Path dir) throws Exception {
        Path cfg = EmbedCommandTest.config(dir), images = CliTest.fixtures().resolve("extra/images");
        Path weights = CliTest.fixtures().resolve("official/official_vit_tiny.pth"), index = dir.resolve("index");
        String[] pictures = {"rgb.png", "gray.png", "exif_rot90.jpg", "palette.png", "image.gif"};
        Path[] files = new Path[pictures.length];
        for (int i = 0; i < pictures.length; i++) files[i] = Files.copy(images.resolve(pictures[i]), dir.resolve(pictures[i]));
        Path list = Files.write(dir.resolve("index.txt"), java.util.Arrays.stream(files).map(Path::toString).toList());
        Result e = CliTest.run("embed", "--weights", weights.toString(), "--config", cfg.toString(), "--resize", "56", "--crop", "56",
                list.toString(), "--output", index.toString());
        assertEquals(0, e.code(), e.out() + e.err());

        Path bad = Files.writeString(dir.resolve("broken.jpg"), "not an image");
        Path tsv = dir.resolve("found.tsv"), sheet = dir.resolve("sheet.png");
        // no --weights: they come from the index's run.json (the config, which this fixture's .pth cannot imply, is given)
        Result r = CliTest.run("search", "--embeddings", index.toString(), "--config", cfg.toString(), "--top", "3", "--output", tsv.toString(),
                "--sheet", sheet.toString(), "--cell", "64",
                files[0].toString(), files[2].toString(), bad.toString());
        assertEquals(1, r.code(), r.out() + r.err()); // one query failed, the others answered
        assertTrue(r.out().contains(bad + ": error: "), r.out() + r.err());
        List<String> rows = Files.readAllLines(tsv);
        assertEquals("query\trank\tsimilarity\tid\tclass", rows.get(0));
        assertEquals(1 + 2 * 3, rows.size(), rows.toString());
        for (int q = 0; q < 2; q++) {
            String query = files[q == 0 ? 0 : 2].toString();
            String[] first = rows.get(1 + 3 * q).split("\t");
            assertEquals(query, first[0]);
            assertEquals("1", first[1]);
            assertEquals(query, first[3], "the query itself is its own nearest image");
            assertEquals(1.0, Double.parseDouble(first[2]), 1e-5);
            double prev = 2;
            for (int k = 0; k < 3; k++) {
                double s = Double.parseDouble(rows.get(1 + 3 * q + k).split("\t")[2]);
                assertTrue(s <= prev && s > -1.0001, "similarities descend: " + rows);
                prev = s;
            }
        }

        // the contact sheet: a row per answered query, the query and its 3 neighbours, 64 px cells and a caption of 2 lines
        java.awt.image.BufferedImage im = javax.imageio.ImageIO.read(sheet.toFile());
        assertEquals(8 + 4 * (64 + 8), im.getWidth());
        assertTrue(im.getHeight() > 2 * (64 + 8) && im.getHeight() < 2 * (64 + 8 + 3 * 20), "2 rows: " + im.getHeight());
        // the first neighbour is the query itself: its cell shows the same picture as the query's cell (the framed one)
        int same = 0;
        for (int y = 8 + 8; y < 8 + 56; y += 4)
            for (int x = 8 + 8; x < 8 + 56; x += 4)
                if (im.getRGB(x, y) == im.getRGB(x + 72, y)) same++;
        assertTrue(same > 140, "query and first neighbour drawn alike: " + same + " of 144 pixels");

        // not an embed folder: one line naming the file
        Result none = CliTest.run("search", "--embeddings", dir.resolve("nothing").toString(), files[0].toString());
        assertEquals(1, none.code());
        assertTrue(none.err().contains("nothing: not a `dino4j embed` output (no run.json)"), none.err());
    }

    @Test
    void indexBuildThenSearchAnswersAsTheExactSearchAndResumes(@TempDir Path dir) throws Exception {
        Path cfg = EmbedCommandTest.config(dir), images = CliTest.fixtures().resolve("extra/images");
        Path weights = CliTest.fixtures().resolve("official/official_vit_tiny.pth"), emb = dir.resolve("emb"), ix = dir.resolve("ix");
        Path photos = Files.createDirectories(dir.resolve("photos")); // distinct pictures (the fixture folder has one in many formats)
        for (String p : new String[] {"rgb.png", "gray.png", "exif_rot90.jpg", "palette.png", "image.gif"}) Files.copy(images.resolve(p), photos.resolve(p));
        Result e = CliTest.run("embed", "--weights", weights.toString(), "--config", cfg.toString(), "--resize", "56", "--crop", "56",
                "--patch-mean", photos.toString(), "--output", emb.toString());
        assertEquals(0, e.code(), e.out() + e.err());
        Result b = CliTest.run("index", "build", ix.toString(), "--from", emb.toString(), "--vectors", "cls+patchmean");
        assertEquals(0, b.code(), b.out() + b.err());
        assertTrue(b.out().contains("added, 0 already there"), b.out());
        int n = Integer.parseInt(b.out().trim().split(" ")[0]);
        assertTrue(n >= 5, b.out());
        // a second build finds everything present: nothing added (the resume path)
        Result again = CliTest.run("index", "build", ix.toString(), "--from", emb.toString(), "--vectors", "cls+patchmean");
        assertTrue(again.out().contains(": 0 added, " + n + " already there"), again.out());
        Result info = CliTest.run("index", "info", "--index", ix.toString());
        assertTrue(info.out().contains(n + " entries of cls+patchmean vectors"), info.out());
        // a different spec in the same folder is refused in one line
        Result clash = CliTest.run("index", "build", ix.toString(), "--from", emb.toString());
        assertEquals(1, clash.code());
        assertTrue(clash.err().contains("holds an index of"), clash.err());

        Path query = photos.resolve("rgb.png"), viaIndex = dir.resolve("a.tsv");
        Result r = CliTest.run("search", "--index", ix.toString(), "--config", cfg.toString(), "--top", "3", "--output", viaIndex.toString(), query.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        List<String> rows = Files.readAllLines(viaIndex);
        assertEquals(4, rows.size(), rows.toString());
        String[] first = rows.get(1).split("\t");
        assertEquals(query.toString(), first[3], "the query is its own nearest entry: " + rows);
        assertEquals(1.0, Double.parseDouble(first[2]), 1e-5);
        // a CLS index ranks as the exact search over the embed folder does (5 entries: the HNSW graph misses none)
        Path ixCls = dir.resolve("ix-cls"), exact = dir.resolve("b.tsv"), approx = dir.resolve("c.tsv");
        assertEquals(0, CliTest.run("index", "build", ixCls.toString(), "--from", emb.toString()).code());
        Result x = CliTest.run("search", "--embeddings", emb.toString(), "--config", cfg.toString(), "--top", "5", "--output", exact.toString(), query.toString());
        Result y = CliTest.run("search", "--index", ixCls.toString(), "--config", cfg.toString(), "--top", "5", "--output", approx.toString(), query.toString());
        assertEquals(0, x.code() + y.code(), x.out() + x.err() + y.out() + y.err());
        List<String> xs = Files.readAllLines(exact), ys = Files.readAllLines(approx);
        assertEquals(6, xs.size());
        for (int i = 1; i < 6; i++) {
            String[] p = xs.get(i).split("\\t"), q = ys.get(i).split("\\t");
            assertEquals(p[3], q[3], "rank " + i + ": " + xs + " vs " + ys);
            assertEquals(Double.parseDouble(p[2]), Double.parseDouble(q[2]), 1e-5);
        }
    }

    /** --solr with nothing listening: one line naming the URL and collection, exit 1 (the SolrCloud path itself: dino4j-solr's SolrIndexTest). */
    @Test
    void anUnreachableSolrIsOneLine() {
        Result r = CliTest.run("search", "--solr", "http://127.0.0.1:9/solr", "--collection", "photos", CliTest.fixtures().resolve("extra/images/rgb.png").toString());
        assertEquals(1, r.code(), r.out() + r.err());
        assertTrue(r.err().startsWith("dino4j search: error: http://127.0.0.1:9/solr collection photos: cannot open"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }
}
