// xmodal search page: vanilla JS, no dependencies.
// Every string from the server goes into the DOM as text (textContent / attributes), never as
// HTML: captions and paths are user data.
"use strict";

const $ = (id) => document.getElementById(id);

// A token from ?token=T: sent as a Bearer header by every fetch (the server also sets a
// cookie for it when it serves the page, which <img>/<audio> requests carry). It is then
// dropped from the address bar, so it is not bookmarked or shared by accident.
const params = new URLSearchParams(location.search);
const token = params.get("token");
if (token) {
  params.delete("token");
  const rest = params.toString();
  history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
}

function headers(extra) {
  const h = Object.assign({}, extra);
  if (token) h.Authorization = "Bearer " + token;
  return h;
}

// el("p", {class: "x"}, "text", child): an element; strings become text nodes.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

const media = (id) => "/media/" + encodeURIComponent(id);
const basename = (p) => (p ? String(p).split(/[\\/]/).pop() : "");

// -- errors and status -------------------------------------------------------------------
function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

// fetch → JSON; a non-2xx answer throws "detail (code, HTTP status)".
async function call(url, options) {
  let resp;
  try {
    resp = await fetch(url, options);
  } catch (err) {
    throw new Error("network error: " + err.message);
  }
  let body = null;
  try { body = await resp.json(); } catch (_) { /* not JSON */ }
  if (!resp.ok) {
    const detail = body && body.detail ? body.detail : resp.statusText;
    const code = body && body.error ? body.error + ", " : "";
    throw new Error(detail + " (" + code + "HTTP " + resp.status + ")");
  }
  return body;
}

async function loadHealth() {
  try {
    const h = await call("/health", { headers: headers() });
    $("health").textContent = h.documents + " documents in " + h.collections + " collections";
  } catch (err) {
    $("health").textContent = "unavailable";
    showError(err.message);
  }
}

// -- media that retry ---------------------------------------------------------------------
// A thumbnail or player whose file is refused for a moment (429 while the server is busy)
// asks again after Retry-After, doubling the wait each time, at most MEDIA_RETRIES times; a
// file that stays unavailable is replaced by a placeholder saying why.
const MEDIA_RETRIES = 4;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The wait before retry number `attempt` (0-based): Retry-After (else ½ s), doubled per try.
function backoffMs(resp, attempt) {
  const given = parseFloat(resp ? resp.headers.get("Retry-After") : "");
  const base = Number.isFinite(given) ? given * 1000 : 500;
  return Math.min(8000, base * 2 ** attempt) + Math.random() * 200;
}

const retriable = (resp) => !resp || resp.ok || resp.status === 429 || resp.status === 503;

// fetch, retrying 429/503 answers after Retry-After; the last answer (or null: no network).
async function fetchRetry(url, options) {
  for (let attempt = 0; ; attempt++) {
    let resp = null;
    try { resp = await fetch(url, options); } catch (_) { /* no answer: retry */ }
    if ((resp && resp.status !== 429 && resp.status !== 503) || attempt >= MEDIA_RETRIES) {
      return resp;
    }
    await sleep(backoffMs(resp, attempt));
  }
}

// The URL again, with a retry counter (so the browser asks anew); a #t= fragment is kept.
function retryUrl(url, attempt) {
  const [base, frag] = url.split("#");
  return base + (base.includes("?") ? "&" : "?") + "retry=" + attempt + (frag ? "#" + frag : "");
}

function unavailable(resp) {
  const why = resp ? "HTTP " + resp.status : "network error";
  return el("div", { class: "unavailable", role: "img", "data-testid": "media-unavailable",
                     "aria-label": "file not available (" + why + ")" },
            "file not available (" + why + ")");
}

// On a load error, ask the server why (one byte of the same file): a refusal for now (429,
// 503), or an answer after all, retries after the backoff; anything else, or too many tries,
// shows the placeholder.
function retrying(node) {
  const url = node.getAttribute("src");
  let attempt = 0;
  node.addEventListener("error", async () => {
    let resp = null;
    try {
      resp = await fetch(url, { headers: headers({ Range: "bytes=0-0" }), cache: "no-store" });
    } catch (_) { /* no answer: retry */ }
    if (!retriable(resp) || attempt >= MEDIA_RETRIES) {
      node.replaceWith(unavailable(resp));
      return;
    }
    await sleep(backoffMs(resp && !resp.ok ? resp : null, attempt));
    attempt += 1;
    node.setAttribute("src", retryUrl(url, attempt));
  });
  return node;
}

// -- rendering ---------------------------------------------------------------------------
const fmt = (x, digits) => (typeof x === "number" ? x.toFixed(digits) : "–");

function scoreLine(hit) {
  // A fused RRF score is a rank statistic, not a similarity: label it so.
  const label = hit.fused ? "fused (RRF)" : "cosine";
  return el("p", { class: "score", "data-testid": "score" },
    el("span", { "data-testid": "score-label" }, label), ": ",
    el("span", { "data-testid": "score-value" }, fmt(hit.score, hit.fused ? 4 : 3)));
}

function scoreTable(hit) {
  // One row per list: its raw cosine, the hit's rank in it, and P(match) when calibrated.
  const table = el("table", { "data-testid": "raw-scores" });
  const calibrated = hit.calibrated || {};
  for (const [list, raw] of Object.entries(hit.raw_scores || {})) {
    const rank = (hit.ranks || {})[list];
    const p = calibrated[list];
    const right = "cos " + fmt(raw, 3) + (rank ? " · #" + rank : "");
    table.append(el("tr", { "data-list": list }, el("td", {}, list), el("td", {}, right)));
    if (typeof p === "number") {
      table.append(el("tr", { "data-testid": "calibrated", "data-list": list },
        el("td", {}, "P(match)"), el("td", {}, (100 * p).toFixed(1) + "%")));
    }
  }
  return table;
}

// -- time-based documents (videos, long recordings) ---------------------------------------
const VIDEO_EXT = /\.(mp4|webm|mkv|mov|ogv|avi)$/i;
const isVideo = (hit) => hit.modality === "video" || VIDEO_EXT.test(hit.path || "");
const docId = (hit) => hit.document_id || hit.id;  // a per-segment hit plays its document
const hasTime = (hit) => typeof hit.t_start === "number" && typeof hit.t_end === "number";
const frame = (id, t) => media(id) + "/frame?t=" + encodeURIComponent(t.toFixed(3));

// "mm:ss" ("h:mm:ss" with hours), to the second: as the CLI prints it
function clock(seconds, hours) {
  const s = Math.floor(seconds);
  const two = (n) => String(n).padStart(2, "0");
  return hours ? Math.floor(s / 3600) + ":" + two(Math.floor(s / 60) % 60) + ":" + two(s % 60)
               : two(Math.floor(s / 60)) + ":" + two(s % 60);
}

// "mm:ss–mm:ss": the start rounded down, the end up, so the span covers the segment
function timeSpan(start, end) {
  const a = Math.floor(Math.round(start * 1000) / 1000);
  const b = Math.ceil(Math.round(end * 1000) / 1000);
  return clock(a, b >= 3600) + "–" + clock(b, b >= 3600);
}

// Seek a player to t once its metadata is loaded (now, if it already is).
function seek(player, t) {
  const go = () => { try { player.currentTime = t; } catch (_) { /* not seekable yet */ } };
  if (player.readyState >= 1) go();
  else player.addEventListener("loadedmetadata", go, { once: true });
}

// A <video>/<audio> player of the hit's document, starting at its best segment.
function player(hit, tag) {
  const start = hasTime(hit) ? hit.t_start : 0;
  const attrs = { controls: "", preload: "metadata", "data-testid": tag === "video"
    ? "video-player" : "player", src: media(docId(hit)) + (start ? "#t=" + start : "") };
  if (tag === "video") attrs.poster = frame(docId(hit), start);
  const node = retrying(el(tag, attrs));
  if (start) seek(node, start);
  return node;
}

// The best segment's span, and the next best segments as buttons that seek the player.
function timeBlock(hit, playerNode) {
  if (!hasTime(hit)) return null;
  const box = el("div", { class: "times" },
    el("span", { class: "span", "data-testid": "time-span", "data-t": hit.t_start },
       timeSpan(hit.t_start, hit.t_end)));
  const more = (hit.segments || []).map((s) => {
    const b = el("button", { type: "button", class: "segment", "data-testid": "segment",
                             "data-t": s.t_start,
                             title: s.list + " · cos " + fmt(s.score, 3) },
                 timeSpan(s.t_start, s.t_end));
    b.addEventListener("click", () => seek(playerNode, s.t_start));
    return b;
  });
  if (more.length) box.append(el("span", { class: "more" }, "also:"), ...more);
  return box;
}

function mediaBlock(hit) {
  const box = el("div", { class: "media" });
  if (isVideo(hit)) {
    box.append(player(hit, "video"));
  } else if (hit.modality === "image") {
    box.append(retrying(el("img", { src: media(hit.id), alt: hit.caption || basename(hit.path),
                                    "data-testid": "thumb" })));
  } else if (hit.modality === "audio") {
    box.append(player(hit, "audio"));
  } else {
    // a text document: its caption, else the start of the file
    const p = el("p", { class: "snippet", "data-testid": "snippet" }, hit.caption || "…");
    if (!hit.caption) {
      fetchRetry(media(hit.id), { headers: headers() })
        .then((r) => (r && r.ok ? r.text() : ""))
        .then((t) => { p.textContent = t.slice(0, 400) || basename(hit.path); })
        .catch(() => { p.textContent = basename(hit.path); });
    }
    box.append(p);
  }
  return box;
}

function card(hit) {
  const shown = mediaBlock(hit);
  const playerNode = shown.querySelector("video, audio");
  return el("article", { class: "hit", "data-testid": "hit", "data-id": hit.id,
                         "data-rank": hit.rank, "data-modality": hit.modality || "" },
    shown,
    el("div", { class: "body" },
      el("h3", {}, "#" + hit.rank + " ", basename(hit.path) || hit.id),
      playerNode ? timeBlock(hit, playerNode) : null,
      hit.caption && hit.modality !== "text"
        ? el("p", { class: "caption", "data-testid": "caption" }, hit.caption) : null,
      el("div", { class: "meta" },
        el("span", { class: "badge" }, hit.modality || "?"),
        el("span", { "data-testid": "collection" }, hit.collection)),
      scoreLine(hit),
      scoreTable(hit)));
}

function render(result, what) {
  const hits = result.hits || [];
  $("status").textContent = hits.length + " hit" + (hits.length === 1 ? "" : "s") + " for " + what;
  $("trace").replaceChildren(...(result.trace || []).map((t) => el("li", {}, t)));
  $("warnings").replaceChildren(...(result.errors || []).map((t) => el("li", {}, t)));
  $("results").replaceChildren(...hits.map(card));
}

// -- searching ---------------------------------------------------------------------------
function options() {
  // k goes to the server as typed (it answers out-of-range values with its own message)
  const k = parseInt($("k").value, 10);
  return { k: Number.isNaN(k) ? 10 : k, modality: $("modality").value,
           mixed: $("mixed").checked };
}

async function run(request, what) {
  clearError();
  $("status").textContent = "searching " + what + "…";
  document.body.setAttribute("aria-busy", "true");
  try {
    render(await request(), what);
  } catch (err) {
    $("status").textContent = "search failed";
    $("trace").replaceChildren();
    $("results").replaceChildren();
    showError(err.message);
  } finally {
    document.body.removeAttribute("aria-busy");
  }
}

function searchText(query) {
  const o = options();
  const body = { query: query, k: o.k };
  if (o.modality) body.modalities = [o.modality];
  if (o.mixed) body.mixed = true;
  return run(() => call("/search", {
    method: "POST", headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify(body),
  }), "“" + query + "”");
}

function searchFile(file) {
  const o = options();
  const form = new FormData();
  form.append("file", file, file.name || "query");
  const kind = (file.type || "").split("/")[0];
  if (kind === "image" || kind === "audio") form.append("modality", kind);
  form.append("k", String(o.k));
  if (o.modality) form.append("modalities", o.modality);
  return run(() => call("/search/file", { method: "POST", headers: headers(), body: form }),
             "file " + (file.name || "upload"));
}

// -- wiring ------------------------------------------------------------------------------
$("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = $("query").value.trim();
  if (q) searchText(q);
});

$("file-input").addEventListener("change", (e) => {
  const file = e.target.files && e.target.files[0];
  if (file) searchFile(file);
  e.target.value = "";  // picking the same file again searches again
});

const zone = $("dropzone");
for (const type of ["dragenter", "dragover"]) {
  zone.addEventListener(type, (e) => { e.preventDefault(); zone.classList.add("over"); });
}
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (e) => {
  e.preventDefault();
  zone.classList.remove("over");
  const file = e.dataTransfer && e.dataTransfer.files[0];
  if (file) searchFile(file); else showError("drop an image or audio file");
});

loadHealth();
