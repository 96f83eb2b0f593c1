// Recorded video in the console: up to four cameras played in sync on one wall clock, a timeline of
// recorded spans, gaps and evidence locks (24 h down to minutes), keyframe stepping, 1/2/4/8x speed,
// and evidence export / locks.
//
// How playback works: /api/v1/recordings/playback gives a short-lived token (opening is audited); the
// plan (/api/v1/playback/{camera}/plan.json) lists each recorded segment with its chunks (whole GOPs as
// they lie on disk) and its wall-clock start. Each tile appends init + chunks into one SourceBuffer and
// sets timestampOffset so that a video's currentTime is "seconds since the start of the day shown":
// the same number in every tile, which is what keeps them in sync. Gaps are holes in the buffer.

import { api, can, toast, wireCommon } from "./api.js";
import { $, $$, clear, debounce, h } from "./dom.js";
import { formatDateTime, localName, t, timezone } from "./i18n.js";

const MAX_TILES = 4;
const DAY = 86400;
const AHEAD = 30; // seconds buffered ahead of the playhead
const BEHIND = 60; // seconds kept behind it
const TOKEN_REFRESH_MS = 200_000; // tokens live 300 s

// -- time in the platform's time zone ------------------------------------------------------------------

const partsFmt = new Intl.DateTimeFormat("en-CA", {
  timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});
const clockFmt = new Intl.DateTimeFormat("en-GB", {
  timeZone: timezone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});
const shortFmt = new Intl.DateTimeFormat("en-GB", { timeZone: timezone, hour: "2-digit", minute: "2-digit", hour12: false });

function parts(seconds) {
  const out = {};
  for (const p of partsFmt.formatToParts(new Date(seconds * 1000))) out[p.type] = p.value;
  return out;
}

function zoneOffset(seconds) {
  const p = parts(seconds);
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second) / 1000;
  return asUtc - Math.floor(seconds);
}

function dayStart(dateText) {
  const [y, m, d] = dateText.split("-").map(Number);
  const guess = Date.UTC(y, m - 1, d) / 1000;
  return guess - zoneOffset(guess);
}

function dateText(seconds) {
  const p = parts(seconds);
  return `${p.year}-${p.month}-${p.day}`;
}

const iso = (seconds) => new Date(seconds * 1000).toISOString();
const clockText = (seconds) => clockFmt.format(new Date(seconds * 1000));

// -- state ---------------------------------------------------------------------------------------------

const S = {
  cameras: [],
  picked: [],
  day0: 0,
  view: { from: 0, to: DAY },
  clock: { wall: 0, rate: 1, playing: false, at: performance.now() },
  lines: new Map(),
  tiles: new Map(),
  mark: { from: null, to: null },
};

function now() {
  const c = S.clock;
  return c.playing ? c.wall + ((performance.now() - c.at) / 1000) * c.rate : c.wall;
}

function setClock(wall, changes = {}) {
  S.clock = { ...S.clock, ...changes, wall, at: performance.now() };
}

// -- one camera's player ---------------------------------------------------------------------------------

class Tile {
  constructor(camera) {
    this.camera = camera;
    this.video = h("video", { muted: true, playsinline: true, preload: "auto" });
    this.video.muted = true;
    this.status = h("div", { class: "pb-status" }, t("Loading…"));
    this.el = h("figure", { class: "pb-tile", dataset: { camera: camera.id } },
      this.video, this.status, h("figcaption", {}, localName(camera)));
    this.token = "";
    this.tokenAt = 0;
    this.plan = [];
    this.planRange = [0, 0];
    this.ms = null;
    this.sb = null;
    this.segment = null;
    this.next = null;
    this.generation = 0;
    this.pumping = false;
    this.seeking = false;
    this.video.addEventListener("error", () => this.say(t("The browser could not play this recording.")));
  }

  say(text) {
    this.status.textContent = text || "";
    this.status.hidden = !text;
  }

  async token_() {
    if (!this.token || Date.now() - this.tokenAt > TOKEN_REFRESH_MS) {
      const out = await api("/recordings/playback", {
        method: "POST", quiet: true,
        body: { camera_id: this.camera.id, from: iso(S.day0), to: iso(S.day0 + DAY), refresh: Boolean(this.token) },
      });
      this.token = out.token;
      this.tokenAt = Date.now();
    }
    return this.token;
  }

  withToken(url) {
    const u = new URL(url, location.origin);
    u.searchParams.set("token", this.token);
    return u.toString();
  }

  async fetchBytes(url) {
    await this.token_();
    let response = await fetch(this.withToken(url));
    if (response.status === 401) {
      this.token = "";
      await this.token_();
      response = await fetch(this.withToken(url));
    }
    if (!response.ok) throw new Error(`${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  async loadPlan(wall) {
    const from = Math.max(S.day0, wall - 60);
    const to = Math.min(S.day0 + DAY, Math.max(wall, from) + 900);
    if (to <= from) return;
    await this.token_();
    const url = `/api/v1/playback/${this.camera.id}/plan.json?from=${encodeURIComponent(iso(from))}&to=${encodeURIComponent(iso(to))}`;
    const response = await fetch(this.withToken(url));
    if (!response.ok) throw new Error(`${response.status}`);
    const plan = await response.json();
    this.plan = plan.segments;
    this.planRange = [from, to];
  }

  /** The chunk holding `wall`, or the first one after it; null if there is none in the plan. */
  chunkAt(wall) {
    for (let s = 0; s < this.plan.length; s += 1) {
      const seg = this.plan[s];
      for (let c = 0; c < seg.chunks.length; c += 1) {
        if (seg.chunks[c].end > wall) return { s, c };
      }
    }
    return null;
  }

  keyframes() {
    return this.plan.flatMap((seg) => seg.keyframes);
  }

  async resetMedia() {
    this.ms = new MediaSource();
    this.sb = null;
    this.segment = null;
    const opened = new Promise((resolve) => this.ms.addEventListener("sourceopen", resolve, { once: true }));
    if (this.video.src) URL.revokeObjectURL(this.video.src);
    this.video.src = URL.createObjectURL(this.ms);
    await opened;
  }

  updating() {
    const sb = this.sb;
    if (!sb || !sb.updating) return Promise.resolve();
    return new Promise((resolve) => sb.addEventListener("updateend", resolve, { once: true }));
  }

  async append(data) {
    await this.updating();
    this.sb.appendBuffer(data);
    await this.updating();
  }

  async appendChunk(seg, chunk) {
    if (!this.sb) {
      this.sb = this.ms.addSourceBuffer(seg.mime);
      this.mime = seg.mime;
    }
    if (this.segment !== seg.id) {
      await this.updating();
      if (this.mime !== seg.mime && this.sb.changeType) {
        this.sb.changeType(seg.mime);
        this.mime = seg.mime;
      }
      this.sb.timestampOffset = (seg.start - S.day0) - seg.media_start / 90000;
      await this.append(await this.fetchBytes(seg.init));
      this.segment = seg.id;
    }
    await this.append(await this.fetchBytes(chunk.url));
  }

  bufferedEnd() {
    const b = this.video.buffered;
    return b.length ? b.end(b.length - 1) : 0;
  }

  /** Append chunks until AHEAD seconds are buffered past the playhead (loads further plans as needed). */
  async pump(generation) {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (generation === this.generation) {
        const head = this.video.currentTime;
        if (this.bufferedEnd() - head > AHEAD) break;
        if (!this.next) {
          const end = this.planRange[1];
          if (end >= S.day0 + DAY || end > Date.now() / 1000) break;
          await this.loadPlan(end);
          this.next = this.chunkAt(end);
          if (!this.next) break;
          this.segment = null; // a new plan: re-send init and offset before its first chunk
        }
        const { s, c } = this.next;
        const seg = this.plan[s];
        await this.appendChunk(seg, seg.chunks[c]);
        this.next = c + 1 < seg.chunks.length ? { s, c: c + 1 } : (s + 1 < this.plan.length ? { s: s + 1, c: 0 } : null);
      }
    } catch (err) {
      if (generation === this.generation) this.say(t("Could not load the recording: {detail}", { detail: String(err.message || err) }));
    } finally {
      this.pumping = false;
    }
  }

  async seek(wall) {
    const generation = ++this.generation;
    this.seeking = true;
    try {
      const [from, to] = this.planRange;
      if (wall < from || wall > to - 60) await this.loadPlan(wall);
      if (generation !== this.generation) return;
      const pos = this.chunkAt(wall);
      if (!pos) {
        this.next = null;
        this.say(t("No recording at this time"));
        return;
      }
      await this.resetMedia();
      this.next = pos;
      const chunk = this.plan[pos.s].chunks[pos.c];
      this.say(chunk.start > wall + 0.5 ? t("No recording at this time") : "");
      this.seeking = false;
      await this.pump(generation);
      if (generation === this.generation) this.video.currentTime = Math.max(wall, chunk.start) - S.day0;
    } catch (err) {
      if (generation === this.generation) this.say(t("Could not load the recording: {detail}", { detail: String(err.message || err) }));
    } finally {
      if (generation === this.generation) this.seeking = false;
    }
  }

  inBuffer(position) {
    const b = this.video.buffered;
    for (let i = 0; i < b.length; i += 1) if (b.start(i) - 0.05 <= position && position < b.end(i)) return true;
    return false;
  }

  /** Whether this camera has video at `wall` (by the plan); undefined when the plan does not cover it. */
  recordedAt(wall) {
    const [from, to] = this.planRange;
    if (wall < from || wall > to) return undefined;
    return this.plan.some((seg) => seg.chunks.some((c) => c.start - 0.05 <= wall && wall < c.end));
  }

  /** Follow the shared clock: called a few times a second. */
  tick(wall) {
    const position = wall - S.day0;
    const video = this.video;
    if (this.seeking) return;
    if (!this.inBuffer(position)) {
      const recorded = this.recordedAt(wall);
      if (recorded === false && this.next && this.plan[this.next.s].chunks[this.next.c].start > wall) {
        if (!video.paused) video.pause();
        this.say(t("No recording at this time"));
        this.pump(this.generation);
        return;
      }
      this.seek(wall);
      return;
    }
    this.say("");
    if (Math.abs(video.currentTime - position) > 0.3 * Math.max(1, S.clock.rate)) video.currentTime = position;
    if (video.playbackRate !== S.clock.rate) video.playbackRate = S.clock.rate;
    if (S.clock.playing && video.paused) video.play().catch(() => {});
    if (!S.clock.playing && !video.paused) video.pause();
    if (this.sb && !this.sb.updating && video.buffered.length && video.buffered.start(0) < position - BEHIND) {
      this.sb.remove(0, position - BEHIND / 2);
    }
    this.pump(this.generation);
  }

  /** Where this camera's next video starts after `wall` (for skipping a gap all cameras share). */
  nextStart(wall) {
    const pos = this.chunkAt(wall);
    return pos ? this.plan[pos.s].chunks[pos.c].start : null;
  }

  destroy() {
    this.generation += 1;
    this.video.pause();
    if (this.video.src) URL.revokeObjectURL(this.video.src);
    this.el.remove();
  }
}

// -- the shared clock ----------------------------------------------------------------------------------

function tickAll() {
  let wall = now();
  if (wall >= S.day0 + DAY || wall > Date.now() / 1000) {
    setClock(Math.min(S.day0 + DAY, Date.now() / 1000), { playing: false });
    wall = now();
    renderPlay();
  }
  const tiles = [...S.tiles.values()];
  if (S.clock.playing && tiles.length && tiles.every((tile) => tile.recordedAt(wall) === false)) {
    const next = tiles.map((tile) => tile.nextStart(wall)).filter((v) => v !== null);
    if (next.length) setClock(Math.min(...next));
  }
  for (const tile of tiles) tile.tick(now());
  $("#pb-clock").textContent = clockText(now());
  drawTimeline();
}

function seekAll(wall) {
  const clamped = Math.max(S.day0, Math.min(S.day0 + DAY, wall));
  setClock(clamped);
  for (const tile of S.tiles.values()) tile.seek(clamped);
  keepInView(clamped);
  tickAll();
}

function renderPlay() {
  const btn = $("#pb-play");
  btn.textContent = S.clock.playing ? `⏸ ${t("Pause")}` : `▶ ${t("Play")}`;
  btn.setAttribute("aria-pressed", String(S.clock.playing));
}

function stepKeyframe(direction) {
  const tile = S.tiles.get(S.picked[0]);
  if (!tile) return;
  const wall = now();
  const keys = tile.keyframes();
  const target = direction > 0
    ? keys.find((k) => k > wall + 0.02)
    : [...keys].reverse().find((k) => k < wall - 0.02);
  setClock(wall, { playing: false });
  renderPlay();
  if (target !== undefined) seekAll(target);
  else toast(t("No further keyframe in the loaded part; play on or seek."));
}

// -- timeline -------------------------------------------------------------------------------------------

const COLORS = { bg: "#eef1f5", rec: "#2b8a3e", gap: "#e03131", lock: "#f59f00", mark: "rgba(15,111,209,.25)", head: "#0b2540" };

function keepInView(wall) {
  const span = S.view.to - S.view.from;
  if (wall < S.view.from || wall > S.view.to) setView(wall - span / 2, span);
}

function setView(from, span) {
  const width = Math.max(60, Math.min(DAY, span));
  const start = Math.max(S.day0, Math.min(S.day0 + DAY - width, from));
  S.view = { from: start, to: start + width };
  loadTimelines();
  drawTimeline();
}

const loadTimelines = debounce(async () => {
  const { from, to } = S.view;
  await Promise.all(S.picked.map(async (id) => {
    try {
      const line = await api(`/cameras/${id}/timeline`, { query: { from: iso(from), to: iso(to) }, quiet: true });
      S.lines.set(id, { ...line, from, to });
    } catch {
      S.lines.delete(id);
    }
  }));
  drawTimeline();
}, 150);

function drawTimeline() {
  const canvas = $("#pb-timeline");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const { from, to } = S.view;
  const x = (wall) => ((wall - from) / (to - from)) * width;
  const axis = 18;
  const rows = Math.max(1, S.picked.length);
  const rowH = (height - axis) / rows;
  S.picked.forEach((id, row) => {
    const top = axis + row * rowH + 2;
    const hgt = rowH - 4;
    g.fillStyle = COLORS.bg;
    g.fillRect(0, top, width, hgt);
    const line = S.lines.get(id);
    if (!line) return;
    g.fillStyle = COLORS.rec;
    for (const s of line.spans) {
      const a = x(Date.parse(s.start) / 1000);
      g.fillRect(a, top, Math.max(1, x(Date.parse(s.end) / 1000) - a), hgt);
    }
    g.fillStyle = COLORS.gap;
    for (const gap of line.gaps) {
      const a = x(Date.parse(gap.start) / 1000);
      const b = x(gap.end ? Date.parse(gap.end) / 1000 : Math.min(Date.now() / 1000, to));
      g.fillRect(a, top + hgt * 0.35, Math.max(1, b - a), hgt * 0.3);
    }
    g.fillStyle = COLORS.lock;
    for (const lock of line.locks) {
      const a = x(Date.parse(lock.start) / 1000);
      g.fillRect(a, top, Math.max(2, x(Date.parse(lock.end) / 1000) - a), 4);
    }
  });
  if (S.mark.from !== null) {
    const a = x(S.mark.from);
    const b = x(S.mark.to ?? S.mark.from);
    g.fillStyle = COLORS.mark;
    g.fillRect(Math.min(a, b), axis, Math.max(2, Math.abs(b - a)), height - axis);
  }
  drawAxis(g, width, axis, x);
  const head = x(now());
  g.fillStyle = COLORS.head;
  g.fillRect(head - 1, 0, 2, height);
}

function drawAxis(g, width, axis, x) {
  const span = S.view.to - S.view.from;
  const step = [60, 300, 900, 1800, 3600, 7200, 10800].find((s) => span / s <= 12) || 10800;
  g.fillStyle = "#5f6b7a";
  g.font = "11px system-ui, sans-serif";
  g.textBaseline = "top";
  const first = Math.ceil((S.view.from - S.day0) / step) * step + S.day0;
  for (let tick = first; tick <= S.view.to; tick += step) {
    const px = x(tick);
    g.fillRect(px, axis - 5, 1, 5);
    g.fillText(shortFmt.format(new Date(tick * 1000)), px + 2, 2);
  }
  g.fillRect(0, axis - 1, width, 1);
}

function timeAtPointer(event) {
  const canvas = $("#pb-timeline");
  const rect = canvas.getBoundingClientRect();
  return S.view.from + ((event.clientX - rect.left) / rect.width) * (S.view.to - S.view.from);
}

function describeAt(wall) {
  for (const id of S.picked) {
    const line = S.lines.get(id);
    if (!line) continue;
    for (const gap of line.gaps) {
      const a = Date.parse(gap.start) / 1000;
      const b = gap.end ? Date.parse(gap.end) / 1000 : Infinity;
      if (a <= wall && wall < b) return `${clockText(wall)} · ${t("Gap")}: ${gap.reason}`;
    }
  }
  return clockText(wall);
}

function wireTimeline() {
  const canvas = $("#pb-timeline");
  canvas.addEventListener("click", (e) => seekAll(timeAtPointer(e)));
  canvas.addEventListener("mousemove", (e) => { $("#pb-hover").textContent = describeAt(timeAtPointer(e)); });
  canvas.addEventListener("mouseleave", () => { $("#pb-hover").textContent = ""; });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const at = timeAtPointer(e);
    const span = (S.view.to - S.view.from) * (e.deltaY > 0 ? 1.5 : 1 / 1.5);
    const share = (at - S.view.from) / (S.view.to - S.view.from);
    setView(at - share * span, span);
  }, { passive: false });
  canvas.addEventListener("keydown", (e) => {
    const span = S.view.to - S.view.from;
    if (e.key === "ArrowLeft") setView(S.view.from - span / 4, span);
    else if (e.key === "ArrowRight") setView(S.view.from + span / 4, span);
    else return;
    e.preventDefault();
  });
  for (const btn of $$("[data-span]")) {
    btn.addEventListener("click", () => {
      const span = Number(btn.dataset.span);
      setView(now() - span / 2, span);
    });
  }
  window.addEventListener("resize", drawTimeline);
}

// -- cameras -------------------------------------------------------------------------------------------

function renderCameras() {
  const list = clear($("#pb-cam-list"));
  const q = $("#pb-search").value.trim().toLowerCase();
  const shown = S.cameras.filter((c) => !q || `${c.name} ${c.name_en} ${c.gb_id}`.toLowerCase().includes(q));
  if (!shown.length) list.append(h("li", { class: "empty" }, t("No cameras")));
  for (const cam of shown) {
    const picked = S.picked.includes(cam.id);
    list.append(h("li", {}, h("button", {
      type: "button", class: `cam-item${picked ? " selected" : ""}`, "aria-pressed": String(picked),
      onclick: () => togglePick(cam.id),
    }, h("span", { class: "cam-item-main" }, h("span", { class: "cam-name" }, localName(cam)),
      h("span", { class: "cam-sub" }, cam.gb_id)))));
  }
  $("#pb-picked").textContent = t("{n} of {max}", { n: S.picked.length, max: MAX_TILES });
}

function togglePick(id) {
  if (S.picked.includes(id)) {
    S.picked = S.picked.filter((x) => x !== id);
    S.tiles.get(id)?.destroy();
    S.tiles.delete(id);
    S.lines.delete(id);
  } else {
    if (S.picked.length >= MAX_TILES) {
      toast(t("At most {max} cameras play together.", { max: MAX_TILES }));
      return;
    }
    S.picked.push(id);
    const tile = new Tile(S.cameras.find((c) => c.id === id));
    S.tiles.set(id, tile);
    $("#pb-tiles").append(tile.el);
    tile.seek(now());
  }
  $("#pb-tiles").dataset.count = String(S.picked.length);
  $("#pb-empty").hidden = S.picked.length > 0;
  const url = new URL(location.href);
  url.searchParams.set("cams", S.picked.join(","));
  history.replaceState(null, "", url);
  renderCameras();
  loadTimelines();
}

// -- day, play, speed -------------------------------------------------------------------------------

function setDay(text) {
  S.day0 = dayStart(text);
  const nowWall = Date.now() / 1000;
  const wall = nowWall < S.day0 + DAY ? Math.max(S.day0, nowWall - 300) : S.day0 + 8 * 3600;
  setClock(wall, { playing: false });
  renderPlay();
  setView(wall - 1800, 3600);
  for (const tile of S.tiles.values()) { tile.token = ""; tile.planRange = [0, 0]; }
  seekAll(wall);
}

function wireControls() {
  $("#pb-day").addEventListener("change", (e) => e.target.value && setDay(e.target.value));
  $("#pb-play").addEventListener("click", () => {
    setClock(now(), { playing: !S.clock.playing });
    renderPlay();
  });
  for (const btn of $$(".pb-speed")) {
    btn.addEventListener("click", () => {
      setClock(now(), { rate: Number(btn.dataset.rate) });
      for (const other of $$(".pb-speed")) {
        other.classList.toggle("active", other === btn);
        other.setAttribute("aria-checked", String(other === btn));
      }
    });
  }
  $("#pb-prev-key").addEventListener("click", () => stepKeyframe(-1));
  $("#pb-next-key").addEventListener("click", () => stepKeyframe(1));
  $("#pb-search").addEventListener("input", debounce(renderCameras, 100));
}

// -- evidence: marks, export, locks ----------------------------------------------------------------------

function renderMark() {
  const out = $("#pb-range");
  if (!out) return;
  const { from, to } = S.mark;
  out.textContent = from === null ? t("No range marked")
    : `${formatDateTime(iso(from))} – ${to === null ? "…" : clockText(to)}`;
}

function markedRange() {
  const { from, to } = S.mark;
  if (from === null || to === null || to <= from) {
    toast(t("Mark the start and the end of the range first."), "error");
    return null;
  }
  const reason = $("#pb-reason").value.trim();
  if (!reason) {
    toast(t("Give a reason (case number, incident)."), "error");
    return null;
  }
  if (!S.picked.length) {
    toast(t("Choose a camera first."), "error");
    return null;
  }
  return { from: iso(from), to: iso(to), reason };
}

async function pollExport(id, row) {
  for (;;) {
    const exp = await api(`/recordings/exports/${id}`, { quiet: true });
    if (exp.state !== "running") {
      renderExport(exp, row);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function renderExport(exp, row = h("li", { class: "pb-export" })) {
  clear(row);
  const cam = S.cameras.find((c) => c.id === exp.camera_id);
  const state = { running: t("Exporting…"), ready: t("Ready"), failed: t("Failed") }[exp.state] || exp.state;
  row.append(h("span", { class: `badge ${exp.state === "ready" ? "badge-ok" : exp.state === "failed" ? "badge-danger" : ""}` }, state),
    h("span", {}, `${cam ? localName(cam) : exp.camera_id} · ${formatDateTime(exp.start)} – ${formatDateTime(exp.end)}`),
    h("span", { class: "pb-export-reason" }, exp.reason));
  if (exp.state === "failed") row.append(h("span", { class: "pb-export-error" }, exp.error));
  if (exp.state === "ready") {
    const links = h("span", { class: "pb-links" });
    if (exp.files.some((f) => f.url)) {
      for (const f of exp.files) links.append(h("a", { href: f.url, download: f.name }, f.name));
    } else {
      links.append(h("button", { type: "button", class: "btn btn-sm", onclick: async () => {
        renderExport(await api(`/recordings/exports/${exp.id}`), row);
      } }, t("Download links")));
    }
    row.append(links);
  }
  return row;
}

async function startExport() {
  const range = markedRange();
  if (!range) return;
  for (const id of S.picked) {
    const exp = await api("/recordings/exports", { method: "POST", body: { camera_id: id, ...range } });
    const row = renderExport(exp);
    $("#pb-exports").prepend(row);
    pollExport(exp.id, row);
  }
  toast(t("Export started; it is recorded in the audit trail."), "ok");
}

async function lockRange() {
  const range = markedRange();
  if (!range) return;
  for (const id of S.picked) {
    await api("/recordings/locks", { method: "POST", body: { camera_id: id, ...range } });
  }
  toast(t("Range locked: retention keeps it until it is unlocked."), "ok");
  loadTimelines();
}

function wireEvidence() {
  if (!$("#pb-export")) return;
  $("#pb-mark-in").addEventListener("click", () => { S.mark = { from: now(), to: null }; renderMark(); });
  $("#pb-mark-out").addEventListener("click", () => {
    if (S.mark.from === null) S.mark.from = now();
    S.mark.to = now();
    if (S.mark.to < S.mark.from) S.mark = { from: S.mark.to, to: S.mark.from };
    renderMark();
  });
  $("#pb-export").addEventListener("click", () => startExport().catch(() => {}));
  $("#pb-lock").addEventListener("click", () => lockRange().catch(() => {}));
  api("/recordings/exports", { quiet: true }).then((list) => {
    for (const exp of list.slice(0, 10)) $("#pb-exports").append(renderExport(exp));
  }).catch(() => {});
}

// -- storage health ------------------------------------------------------------------------------------

async function refreshStorage() {
  const box = $("#pb-storage");
  try {
    const health = await api("/recordings/health", { quiet: true });
    clear(box);
    box.hidden = health.ok;
    if (health.ok) return;
    box.append(h("strong", {}, t("Recording storage problem")));
    for (const f of health.failing) {
      const cam = S.cameras.find((c) => c.id === f.camera_id);
      box.append(h("p", {}, `${cam ? localName(cam) : f.camera_id}: ${f.reason}`));
    }
    box.append(h("p", {}, t("Free: {free} GB (keep at least {guard} GB)", {
      free: (health.free_bytes / 1e9).toFixed(1), guard: (health.guard_bytes / 1e9).toFixed(1),
    })));
  } catch {
    box.hidden = true;
  }
}

// -- start ---------------------------------------------------------------------------------------------

async function main() {
  wireCommon();
  wireControls();
  wireTimeline();
  wireEvidence();
  if (!can("view_recording")) return;
  S.cameras = await api("/cameras");
  const params = new URLSearchParams(location.search);
  const wanted = (params.get("cams") || "").split(",").map(Number).filter((id) => S.cameras.some((c) => c.id === id));
  const start = Number(params.get("t")) || Date.now() / 1000 - 300;
  $("#pb-day").value = dateText(start);
  S.day0 = dayStart(dateText(start));
  setClock(Math.max(S.day0, start), { playing: false });
  setView(start - 1800, 3600);
  renderCameras();
  for (const id of wanted.slice(0, MAX_TILES)) togglePick(id);
  renderPlay();
  renderMark();
  refreshStorage();
  setInterval(refreshStorage, 15000);
  setInterval(loadTimelines, 15000);
  setInterval(tickAll, 250);
}

main();
