// dino4j serve's page: plain JS, no build step, talks only to its own origin (docs/serve-api.md).
"use strict";

const $ = id => document.getElementById(id);

const state = {
  file: null,          // the query image (a File)
  queryUrl: null,      // its object URL, for the preview
  hits: [],
  views: {},           // view name -> object URL of its PNG for the current query
  ctrl: null,          // AbortController of the current query's requests
  view: "results",
};

// ---- small helpers ------------------------------------------------------------------------------

/** The server's one-line error ({"error": ...}) or the status line. */
async function errorOf(res) {
  try {
    const body = await res.json();
    if (body && body.error) return body.error;
  } catch (_) { /* not JSON */ }
  return `${res.status} ${res.statusText || "error"}`.trim();
}

/**
 * POST the form and answer the response, throwing the server's one-line error on 4xx/5xx. A full queue
 * (429/503 with Retry-After) is waited out and tried again a few times before it counts as an error.
 */
async function post(url, form, signal, headers) {
  for (let attempt = 1; ; attempt++) {
    let res;
    try {
      res = await fetch(url, { method: "POST", body: form, signal, headers });
    } catch (e) {
      if (isAbort(e)) throw e;
      // no HTTP answer at all: the server is down, or it closed the connection on a body it would not take
      throw new Error(`no answer from the server (${e.message})`);
    }
    if (res.ok) return res;
    const retryAfter = res.headers.get("Retry-After");
    const seconds = retryAfter === null ? NaN : Number(retryAfter);
    if ((res.status === 429 || res.status === 503) && attempt < 4 && seconds >= 0 && seconds <= 10) {
      await sleep(Math.max(250, seconds * 1000), signal);
      continue;
    }
    throw new Error(await errorOf(res));
  }
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); reject(new DOMException("aborted", "AbortError")); }, { once: true });
  });
}

function imageForm(file, part = "image") {
  const form = new FormData();
  form.append(part, file, file.name);
  return form;
}

function showError(message) {
  const el = $("error");
  el.textContent = message;
  el.hidden = !message;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function setBusy(node, busy) { node.setAttribute("aria-busy", busy ? "true" : "false"); }

function isAbort(e) { return e && e.name === "AbortError"; }

// ---- health and count ---------------------------------------------------------------------------

async function loadHealth() {
  try {
    const res = await fetch("/health");
    if (!res.ok) throw new Error(await errorOf(res));
    const h = await res.json();
    const heads = h.heads || [];
    $("tab-depth").hidden = !heads.includes("depth");
    $("tab-segment").hidden = !heads.includes("segment");
    // the token field only where writes need one (an older server that does not say: shown)
    $("add-token").closest(".field").hidden = h.write_token === false;
    const idx = h.index || {};
    $("health").replaceChildren(
      chip("model", `${h.model || "?"} · ${h.dim || "?"}-d`),
      countChip(idx.kind, idx.count),
      ...(heads.length ? [chip("heads", heads.join(", "), "heads")] : []));
    $("health").classList.remove("down");
  } catch (e) {
    $("health").textContent = `server unreachable: ${e.message}`;
    $("health").classList.add("down");
  }
}

function chip(label, value, id) {
  const c = el("span", "chip");
  if (id) c.id = id;
  c.append(el("span", "chip-label", label), el("span", "chip-value", value));
  return c;
}

function countChip(kind, count) {
  const c = chip(kind ? `${kind} index` : "index", "", "count");
  setCount(c, count);
  return c;
}

function setCount(c, count) {
  const v = (c || $("count"))?.querySelector(".chip-value");
  if (!v) return;
  v.textContent = count === undefined ? "?" : `${Number(count).toLocaleString("en")} images`;
  v.parentElement.dataset.count = count === undefined ? "" : String(count);
}

// ---- the query ----------------------------------------------------------------------------------

function setQuery(file) {
  if (!file) return;
  if (state.ctrl) state.ctrl.abort();
  state.ctrl = new AbortController();
  if (state.queryUrl) URL.revokeObjectURL(state.queryUrl);
  for (const url of Object.values(state.views)) URL.revokeObjectURL(url);
  state.views = {};
  state.file = file;
  state.queryUrl = URL.createObjectURL(file);
  showError("");
  const img = $("query-img");
  img.hidden = false;
  img.src = state.queryUrl;
  // not something the browser can show (the server will say what is wrong with it): back to the empty drop zone
  img.onerror = () => { img.hidden = true; $("drop-text").hidden = false; $("drop").classList.remove("has-image"); };
  $("drop-text").hidden = true;
  $("drop").classList.add("has-image");
  $("query-name").hidden = false;
  $("query-name").textContent = `${file.name} · ${formatBytes(file.size)}`;
  $("add-submit").disabled = false;
  $("add-result").textContent = "";
  $("add-id").placeholder = defaultId(file.name);
  for (const name of ["pca", "depth", "segment"]) $(`${name}-img`).removeAttribute("src");
  for (const q of document.querySelectorAll(".view-query")) q.src = state.queryUrl;
  search();
  if (state.view !== "results") loadView(state.view);
}

function formatBytes(n) {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(0)} kB` : `${(n / 1048576).toFixed(1)} MB`;
}

function defaultId(name) { return name.replace(/\.[^.]+$/, ""); }

async function search() {
  const grid = $("results");
  const signal = state.ctrl.signal;
  const file = state.file;
  setBusy(grid, true);
  grid.replaceChildren(...skeletons(Number($("k").value)));
  $("summary").textContent = "searching…";
  const params = new URLSearchParams({ k: $("k").value });
  const filter = $("filter").value.trim();
  if (filter) params.set("filter", filter);
  try {
    const res = await post(`/api/search?${params}`, imageForm(file), signal);
    const body = await res.json();
    state.hits = body.hits || [];
    renderHits(state.hits);
    const took = typeof body.took_ms === "number" ? ` · ${body.took_ms.toFixed(1)} ms` : "";
    $("summary").textContent = `${state.hits.length} neighbour${state.hits.length === 1 ? "" : "s"}${took}`;
  } catch (e) {
    if (isAbort(e)) return;
    state.hits = [];
    grid.replaceChildren(el("div", "empty", "No results."));
    $("summary").textContent = "";
    showError(`${file.name}: ${e.message}`);
  } finally {
    if (!signal.aborted) setBusy(grid, false);
  }
}

function skeletons(n) {
  return Array.from({ length: Math.min(n, 12) }, () => {
    const s = el("div", "hit skeleton");
    s.append(el("div", "hit-thumb"), el("div", "hit-body"));
    return s;
  });
}

function renderHits(hits) {
  const grid = $("results");
  if (!hits.length) {
    grid.replaceChildren(el("div", "empty", "The index has no neighbours for this image (is it empty, or the filter too narrow?)."));
    return;
  }
  grid.replaceChildren(...hits.map((hit, rank) => {
    const card = el("button", "hit");
    card.type = "button";
    card.dataset.id = hit.id;
    card.dataset.score = String(hit.score);
    card.title = `Patch matches between the query and ${hit.id}`;
    const thumb = el("div", "hit-thumb");
    const img = el("img", "hit-img");
    img.loading = "lazy";
    img.alt = hit.id;
    img.src = `/api/preview?id=${encodeURIComponent(hit.id)}`;
    img.onerror = () => { thumb.classList.add("no-preview"); img.remove(); };
    thumb.append(img, el("span", "rank", String(rank + 1)));
    const body = el("div", "hit-body");
    // the id's folder (server-side paths have one) muted, its name in bold; the whole id as the tooltip
    const id = el("div", "hit-id");
    id.title = hit.id;
    const cut = hit.id.lastIndexOf("/") + 1;
    if (cut > 0) id.append(el("span", "dir", hit.id.slice(0, cut)));
    id.append(hit.id.slice(cut));
    // the score as a number and as a bar along the picture's lower edge (cosine, so negative is an empty bar)
    const bar = el("div", "bar");
    const fill = el("span");
    fill.style.width = `${Math.max(0, Math.min(1, hit.score)) * 100}%`;
    bar.append(fill);
    const row = el("div", "score-row");
    const meta = el("div", "hit-meta");
    for (const [k, v] of Object.entries(hit.metadata || {}).slice(0, 3)) meta.append(el("span", "tag", `${k}: ${v}`));
    row.append(meta, el("span", "score", Number(hit.score).toFixed(3)));
    body.append(id, row);
    card.append(thumb, bar, body);
    card.addEventListener("click", () => openMatch(hit));
    return card;
  }));
}

// ---- patch matches ------------------------------------------------------------------------------

async function openMatch(hit) {
  const dialog = $("match");
  const img = $("match-img");
  const file = state.file;
  $("match-title").textContent = `${file.name} ↔ ${hit.id}`;
  $("match-info").textContent = "matching patches…";
  img.removeAttribute("src");
  img.hidden = true;
  $("match-spinner").hidden = false;
  if (!dialog.open) dialog.showModal();
  const query = `b_id=${encodeURIComponent(hit.id)}`;
  const signal = state.ctrl.signal;
  try {
    const [png, json] = await Promise.all([
      post(`/api/match?format=png&${query}`, imageForm(file, "a"), signal).then(r => r.blob()),
      post(`/api/match?format=json&${query}`, imageForm(file, "a"), signal).then(r => r.json()),
    ]);
    if (img.dataset.url) URL.revokeObjectURL(img.dataset.url);
    img.dataset.url = URL.createObjectURL(png);
    img.src = img.dataset.url;
    await img.decode().catch(() => {});
    img.hidden = false;
    const pairs = json.pairs || [];
    const mean = pairs.length ? pairs.reduce((s, p) => s + p.score, 0) / pairs.length : 0;
    const grid = g => (g ? `${g.rows}×${g.cols}` : "?");
    $("match-info").textContent = `${pairs.length} matched patch pair${pairs.length === 1 ? "" : "s"}`
      + (pairs.length ? ` · mean similarity ${mean.toFixed(3)}` : "")
      + ` · patch grids ${grid(json.a)} and ${grid(json.b)} · search score ${Number(hit.score).toFixed(3)}`;
  } catch (e) {
    if (isAbort(e)) return;
    $("match-info").textContent = "";
    dialog.close();
    showError(`match with ${hit.id}: ${e.message}`);
  } finally {
    $("match-spinner").hidden = true;
  }
}

// ---- PCA, depth and segmentation views ----------------------------------------------------------

const VIEW_URLS = {
  pca: "/api/pca",
  depth: "/api/depth?format=png",
  segment: "/api/segment?format=png&overlay=true",
};

function selectView(name) {
  state.view = name;
  for (const tab of document.querySelectorAll(".tab")) {
    const on = tab.dataset.view === name;
    tab.classList.toggle("active", on);
    tab.setAttribute("aria-selected", on ? "true" : "false");
  }
  for (const v of document.querySelectorAll(".view")) v.hidden = v.dataset.view !== name;
  if (name !== "results") loadView(name);
}

async function loadView(name) {
  const img = $(`${name}-img`);
  const figure = img.closest("figure");
  if (!state.file) {
    figure.dataset.state = "empty";
    return;
  }
  if (state.views[name]) return;
  const file = state.file;
  const signal = state.ctrl.signal;
  figure.dataset.state = "loading";
  try {
    const res = await post(VIEW_URLS[name], imageForm(file), signal);
    const url = URL.createObjectURL(await res.blob());
    if (state.file !== file) { URL.revokeObjectURL(url); return; }
    state.views[name] = url;
    img.src = url;
    await img.decode().catch(() => {});
    // a picture at the patch grid's size is scaled up as blocks rather than blurred
    img.classList.toggle("pixelated", img.naturalWidth < 256);
    figure.dataset.state = "done";
    if (name === "segment") describeSegments(file, signal);
  } catch (e) {
    if (isAbort(e)) return;
    figure.dataset.state = "failed";
    showError(`${name} of ${file.name}: ${e.message}`);
  }
}

/** The segmentation's largest classes under its picture (the JSON form of the same request). */
async function describeSegments(file, signal) {
  const caption = $("segment-caption");
  caption.textContent = "Semantic segmentation over the image.";
  try {
    const body = await (await post("/api/segment?format=json", imageForm(file), signal)).json();
    if (state.file !== file) return;
    const top = (body.classes || []).slice(0, 5).map(c => `${c.name} ${(100 * c.fraction).toFixed(0)}%`);
    if (top.length) caption.textContent = `Segmentation: ${top.join(" · ")}`;
  } catch (_) { /* the picture is there; the caption stays plain */ }
}

// ---- add to index -------------------------------------------------------------------------------

async function addToIndex(event) {
  event.preventDefault();
  if (!state.file) return;
  const file = state.file;
  const button = $("add-submit");
  const out = $("add-result");
  const params = new URLSearchParams({ id: $("add-id").value.trim() || defaultId(file.name) });
  for (const pair of $("add-meta").value.split(",")) {
    const at = pair.indexOf("=");
    if (at > 0) params.append(`meta.${pair.slice(0, at).trim()}`, pair.slice(at + 1).trim());
    else if (pair.trim()) { out.textContent = ""; showError(`metadata "${pair.trim()}" is not key=value`); return; }
  }
  const token = $("add-token").value.trim();
  button.disabled = true;
  out.className = "add-result";
  out.textContent = "adding…";
  try {
    const res = await post(`/api/images?${params}`, imageForm(file), undefined,
      token ? { Authorization: `Bearer ${token}` } : undefined);
    const body = await res.json();
    out.classList.add("ok");
    out.textContent = `added as ${body.id}`;
    $("add-id").value = "";
    setCount(null, body.count);
    showError("");
    if (state.file === file) search(); // the new entry is among the neighbours now
  } catch (e) {
    out.textContent = "";
    showError(`add ${file.name}: ${e.message}`);
  } finally {
    button.disabled = false;
  }
}

// ---- wiring -------------------------------------------------------------------------------------

function init() {
  const drop = $("drop");
  $("file").addEventListener("change", e => { setQuery(e.target.files[0]); e.target.value = ""; });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, e => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const type of ["dragleave", "drop"]) drop.addEventListener(type, () => drop.classList.remove("over"));
  drop.addEventListener("drop", e => { e.preventDefault(); e.stopPropagation(); setQuery(e.dataTransfer.files[0]); });
  // a file dropped anywhere else should not navigate away from the page
  window.addEventListener("dragover", e => e.preventDefault());
  window.addEventListener("drop", e => { e.preventDefault(); if (e.dataTransfer.files[0]) setQuery(e.dataTransfer.files[0]); });
  $("k").addEventListener("change", () => state.file && search());
  $("filter").addEventListener("keydown", e => { if (e.key === "Enter" && state.file) search(); });
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => selectView(tab.dataset.view));
  $("match-close").addEventListener("click", () => $("match").close());
  $("match").addEventListener("click", e => { if (e.target === $("match")) $("match").close(); });
  $("add-form").addEventListener("submit", addToIndex);
  loadHealth();
}

init();
