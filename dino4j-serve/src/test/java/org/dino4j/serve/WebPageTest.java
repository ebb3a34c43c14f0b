package org.dino4j.serve;

import org.dino4j.index.ExactIndex;
import org.dino4j.index.IndexSpec;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The web page in a real browser: Debian's headless chromium driven by Selenium through /usr/bin/chromedriver, against
 * the real {@link Server} (a random 224 px model, random heads, an exact index holding a few real photos). Screenshots of each step go to target/screenshots/ (test artefacts);
 * with -Ddino4j.docs.screenshots=true the main ones are also copied to docs/serve/ for README.
 */
class WebPageTest {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium"), CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    static final Path SHOTS = Path.of("target", "screenshots"), DOCS = Path.of("..", "docs", "serve");
    static final Duration WAIT = Duration.ofSeconds(60);
    /** Real photos that Debian ships (MATE's backgrounds, scikit-image's samples); the test uses those present. */
    static final List<Path> PHOTOS = Stream.concat(
                    Stream.of("chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png")
                            .map(n -> "/usr/lib/python3/dist-packages/skimage/data/" + n),
                    Stream.of("FreshFlower", "LadyBird", "YellowFlower", "GreenMeadow", "Aqua", "Garden", "Blinds", "Dune",
                                    "RainDrops", "Storm", "TwoWings", "Wood")
                            .map(n -> "/usr/share/backgrounds/mate/nature/" + n + ".jpg"))
            .map(Path::of).filter(Files::isReadable).toList();

    /** A random model at 224 px (a 16 x 16 patch grid, so the match and PCA pictures have something to show), small enough to be quick. */
    static final String MODEL = "{\"img_size\":224,\"patch_size\":14,\"embed_dim\":48,\"depth\":4,\"num_heads\":3,\"init_values\":1.0}";

    /** Writes need this bearer token, so the page's token field is exercised. */
    static final String TOKEN = "s3cret-token";

    static Server server;
    static String base;
    static WebDriver driver;
    /** Selenium has no CDP classes for this chromium's version and says so; the test does not use CDP. */
    static final java.util.logging.Logger CDP_LOG = java.util.logging.Logger.getLogger("org.openqa.selenium.devtools");

    @BeforeAll
    static void start(@TempDir Path profile) throws Exception {
        assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "skipped: the page's browser test needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver)");
        assumeTrue(PHOTOS.size() >= 4, "skipped: fewer than 4 of the sample photos are installed: " + PHOTOS);
        DinoVisionTransformer model = Dinov2.random(ModelConfig.fromJson(MODEL), 11);
        ExactIndex index = new ExactIndex(new IndexSpec("random", Server.defaultPreprocess(model.config()).toString(), IndexSpec.CLS_PATCH_MEAN, 2 * model.embedDim()));
        server = Server.start(Server.Config.defaults().withPort(0).withToken(TOKEN),
                new Server.Backend(model, "random-224", null, index, "exact", Heads.random(model, 5)));
        base = "http://127.0.0.1:" + server.port();
        for (Path photo : PHOTOS) {
            String set = photo.toString().contains("skimage") ? "scikit-image" : "mate";
            Fixture.Answer r = Fixture.postImage(server, "/api/images?id=" + URLEncoder.encode(idOf(photo), StandardCharsets.UTF_8) + "&meta.set=" + set,
                    Files.readAllBytes(photo), "Authorization", "Bearer " + TOKEN);
            assertEquals(200, r.status(), r.text());
        }
        // ChromeDriverService with the driver's path and an explicit binary: Selenium Manager is never asked to download
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toString());
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,800", "--user-data-dir=" + profile);
        CDP_LOG.setLevel(java.util.logging.Level.SEVERE);
        driver = new ChromeDriver(service, options);
        Files.createDirectories(SHOTS);
    }

    @AfterAll
    static void stop() {
        if (driver != null) driver.quit();
        if (server != null) server.close();
    }

    @Test
    void searchFollowAMatchPcaAddAndAnError() throws Exception {
        driver.get(base + "/");
        viewport(1280, 800);
        waitFor(d -> d.findElement(By.id("count")).getAttribute("data-count").equals(String.valueOf(PHOTOS.size())));
        shot("01-start");

        // upload one of the indexed photos through the page's file input
        Path query = PHOTOS.get(0);
        upload(query);
        List<WebElement> cards = waitForResults();
        waitFor(d -> imagesLoaded("#results .hit-img"));
        shot("02-results");
        docs("02-results", "search.png");

        // the neighbours shown are the server's answer to the same request, the query's own entry first at ~1.0
        List<Map<String, Object>> expected = hits(searchApi(query, 12));
        assertEquals(expected.size(), cards.size(), "cards shown");
        for (int i = 0; i < cards.size(); i++) {
            assertEquals(expected.get(i).get("id"), cards.get(i).getAttribute("data-id"), "id of result " + i);
            double score = ((Number) expected.get(i).get("score")).doubleValue();
            assertEquals(score, Double.parseDouble(cards.get(i).getAttribute("data-score")), 1e-6, "score of result " + i);
            assertEquals(String.format("%.3f", score), cards.get(i).findElement(By.className("score")).getText());
        }
        assertTrue(driver.findElements(By.cssSelector("#results .no-preview")).isEmpty(), "every result shows its preview");
        assertEquals(idOf(query), cards.get(0).getAttribute("data-id"));
        assertEquals(1.0, Double.parseDouble(cards.get(0).getAttribute("data-score")), 1e-3);

        // follow a result: the patch-match picture between the query and it
        cards.get(1).click();
        waitFor(d -> d.findElement(By.id("match-img")).isDisplayed() && naturalWidth(By.id("match-img")) > 0);
        String info = driver.findElement(By.id("match-info")).getText();
        assertTrue(info.matches("\\d+ matched patch pairs?.*"), info);
        shot("03-match");
        docs("03-match", "match.png");
        driver.findElement(By.id("match-close")).click();
        waitFor(d -> !d.findElement(By.id("match")).isDisplayed());

        // the PCA view of the same query
        driver.findElement(By.id("tab-pca")).click();
        waitFor(d -> naturalWidth(By.id("pca-img")) > 0);
        shot("04-pca");
        // depth and segmentation, when the server has those heads (its /health lists them, the page shows their tabs)
        for (String head : List.of("depth", "segment")) {
            if (!driver.findElement(By.id("tab-" + head)).isDisplayed()) continue;
            driver.findElement(By.id("tab-" + head)).click();
            waitFor(d -> naturalWidth(By.id(head + "-img")) > 0);
            if (head.equals("segment")) waitFor(d -> d.findElement(By.id("segment-caption")).getText().matches("Segmentation: .*\\d+%.*"));
            shot("04-" + head);
        }
        driver.findElement(By.id("tab-results")).click();

        // add the query under a new id: without the token the server's refusal is the error line; with it the page
        // shows the new count, which is the server's
        int before = count();
        driver.findElement(By.id("add-id")).sendKeys("added-from-page");
        driver.findElement(By.id("add-meta")).sendKeys("album=test");
        driver.findElement(By.id("add-submit")).click();
        waitFor(d -> d.findElement(By.id("error")).isDisplayed());
        assertTrue(driver.findElement(By.id("error")).getText().matches("add chelsea\\.png: .*Bearer.*"), driver.findElement(By.id("error")).getText());
        assertEquals(before, count());
        driver.findElement(By.id("add-token")).sendKeys(TOKEN);
        driver.findElement(By.id("add-submit")).click();
        waitFor(d -> d.findElement(By.id("add-result")).getText().equals("added as added-from-page"));
        assertEquals(before + 1, count());
        waitFor(d -> d.findElement(By.id("count")).getAttribute("data-count").equals(String.valueOf(before + 1)));
        waitFor(d -> d.findElements(By.cssSelector("#results .hit[data-id='added-from-page']")).size() == 1);
        shot("05-added");

        // a file dropped on the drop zone (a synthetic drop event carrying a File: WebDriver cannot drag from the desktop),
        // here a stored entry's preview fetched by the page: the results are the server's answer to those bytes
        String dropped = idOf(PHOTOS.get(1));
        jsAsync("""
                const done = arguments[arguments.length - 1];
                fetch('/api/preview?id=' + encodeURIComponent(arguments[0]))
                  .then(r => r.blob()).then(b => {
                    const dt = new DataTransfer();
                    dt.items.add(new File([b], 'dropped.jpg', { type: 'image/jpeg' }));
                    document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
                    done();
                  });""", dropped);
        waitFor(d -> d.findElement(By.id("query-name")).getText().startsWith("dropped.jpg"));
        List<WebElement> droppedCards = waitForResults();
        List<Map<String, Object>> droppedExpected = hits(searchApi(Fixture.get(server, "/api/images/" + dropped + "/preview").body(), 12));
        assertEquals(droppedExpected.stream().map(h -> h.get("id")).toList(), droppedCards.stream().map(c -> c.getAttribute("data-id")).toList());

        // a non-image: one line of error naming the file, no results
        Path text = Files.writeString(Files.createTempDirectory("dino4j-web").resolve("notes.txt"), "not an image\n");
        upload(text);
        waitFor(d -> d.findElement(By.id("error")).isDisplayed());
        String error = driver.findElement(By.id("error")).getText();
        assertTrue(error.startsWith("notes.txt: "), error);
        assertFalse(error.contains("\n") || error.contains("Exception"), error);
        assertTrue(driver.findElements(By.cssSelector("#results .hit")).isEmpty());
        shot("06-error");

        // a phone's width: the same page stacks into one column
        viewport(390, 844);
        upload(query);
        waitForResults();
        waitFor(d -> imagesLoaded("#results .hit-img"));
        assertFalse(driver.findElement(By.id("error")).isDisplayed(), "a new query clears the error");
        long pageWidth = (Long) js("return document.documentElement.scrollWidth");
        assertTrue(pageWidth <= 390, "no sideways scrolling at a phone's width: " + pageWidth);
        shot("07-phone");
    }

    // ---- the browser ----

    /** Sizes the window so that the page itself (and so each screenshot) is w x h, whatever the browser's frame takes. */
    static void viewport(int w, int h) {
        driver.manage().window().setSize(new Dimension(w, h));
        long innerW = (Long) js("return window.innerWidth"), innerH = (Long) js("return window.innerHeight");
        driver.manage().window().setSize(new Dimension(w + (int) (w - innerW), h + (int) (h - innerH)));
    }

    static void upload(Path file) {
        driver.findElement(By.id("file")).sendKeys(file.toAbsolutePath().toString());
    }

    static List<WebElement> waitForResults() {
        waitFor(d -> "false".equals(d.findElement(By.id("results")).getAttribute("aria-busy"))
                && !d.findElements(By.cssSelector("#results .hit:not(.skeleton)")).isEmpty());
        return driver.findElements(By.cssSelector("#results .hit"));
    }

    static boolean imagesLoaded(String css) {
        return (Boolean) js("return [...document.querySelectorAll(arguments[0])].every(i => i.complete && i.naturalWidth > 0)", css);
    }

    static long naturalWidth(By by) {
        return ((Number) js("return arguments[0].naturalWidth", driver.findElement(by))).longValue();
    }

    static Object js(String script, Object... args) {
        return ((JavascriptExecutor) driver).executeScript(script, args);
    }

    /** A script that calls its last argument when it is done. */
    static Object jsAsync(String script, Object... args) {
        return ((JavascriptExecutor) driver).executeAsyncScript(script, args);
    }

    static void waitFor(java.util.function.Function<WebDriver, Boolean> condition) {
        new WebDriverWait(driver, WAIT).ignoring(org.openqa.selenium.NoSuchElementException.class).until(condition::apply);
    }

    static void shot(String name) throws IOException {
        File png = ((org.openqa.selenium.TakesScreenshot) driver).getScreenshotAs(OutputType.FILE);
        Files.copy(png.toPath(), SHOTS.resolve(name + ".png"), StandardCopyOption.REPLACE_EXISTING);
    }

    /** README's pictures are refreshed only on request, so a test run leaves the tracked files alone. */
    static void docs(String shot, String name) throws IOException {
        if (!Boolean.getBoolean("dino4j.docs.screenshots")) return;
        Files.createDirectories(DOCS);
        Files.copy(SHOTS.resolve(shot + ".png"), DOCS.resolve(name), StandardCopyOption.REPLACE_EXISTING);
    }

    // ---- the server, asked directly ----

    /** Ids with a folder, as server-side paths get them, so the page's preview and match URLs must carry a '/'. */
    static String idOf(Path photo) {
        return (photo.toString().contains("skimage") ? "skimage/" : "nature/") + photo.getFileName().toString().replaceFirst("\\.[^.]+$", "");
    }

    /** The server's answer to the request the page makes (multipart part "image"). */
    static Map<String, Object> searchApi(Path image, int k) throws IOException {
        return searchApi(Files.readAllBytes(image), k);
    }

    static Map<String, Object> searchApi(byte[] image, int k) {
        Fixture.Answer r = Fixture.postMultipart(server, "/api/search?k=" + k, "image", image);
        assertEquals(200, r.status(), r.text());
        return r.json();
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> hits(Map<String, Object> answer) {
        return new ArrayList<>((List<Map<String, Object>>) answer.get("hits"));
    }

    static int count() {
        return ((Number) Fixture.get(server, "/api/count").json().get("count")).intValue();
    }
}
