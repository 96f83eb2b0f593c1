// One camera's player. Each tile appends init + chunks into one SourceBuffer and sets timestampOffset
// so that a video's currentTime is "seconds since the start of the day shown": the same number in every
// tile, which is what keeps them in sync. Gaps are holes in the buffer.
// Sound: a segment recorded with the camera's sound has `audio` in the plan, a whole AAC fMP4 on the
// segment's clock. It goes into a muted <audio> of its own MediaSource with the segment's
// timestampOffset (never into the video's: a missing sound would stall the picture), follows the video's
// time, and plays aloud once the tile's sound button is pressed.

import { h } from "../dom.js";
import { localName, t } from "../i18n.js";
import { privacyBar, refreshApprovals, renderBar } from "./lift.js";
import { Recording } from "./recording.js";
import { DAY, S } from "./state.js";

const AHEAD = 30; // seconds buffered ahead of the playhead
const BEHIND = 60; // seconds kept behind it

export class Tile {
  constructor(camera) {
    this.camera = camera;
    this.recording = new Recording(camera);
    this.video = h("video", { muted: true, playsinline: true, preload: "auto" });
    this.video.muted = true;
    this.status = h("div", { class: "pb-status" }, t("Loading…"));
    this.privacy = privacyBar(this); // masked or not, and asking a second person to lift the masks
    this.el = h("figure", { class: "pb-tile", dataset: { camera: camera.id } },
      this.video, this.status, h("figcaption", {}, localName(camera)), this.privacy);
    this.recording.onLiftRefused = () => refreshApprovals();
    this.ms = null;
    this.sb = null;
    this.segment = null;
    this.next = null;
    this.generation = 0;
    this.pumping = false;
    this.seeking = false;
    this.video.addEventListener("error", () => this.say(t("The browser could not play this recording.")));
    this.audio = null; // made at the first segment with sound
  }

  /** The sound beside the picture: its element, MediaSource and button, made once. */
  soundOn() {
    if (this.audio) return;
    const audio = h("audio", { muted: true, preload: "auto" });
    audio.muted = true;
    const button = h("button", {
      class: "btn btn-sm player-sound", type: "button", "aria-pressed": "false",
      onclick: () => {
        audio.muted = !audio.muted;
        button.textContent = audio.muted ? t("Turn sound on") : t("Mute");
        button.setAttribute("aria-pressed", String(!audio.muted));
      },
    }, t("Turn sound on"));
    this.el.append(audio, button);
    this.audio = audio;
    this.soundReset();
  }

  soundReset() {
    const ms = new MediaSource();
    this.soundMs = ms;
    this.soundSb = null;
    this.soundSegments = new Set();
    if (this.audio.src) URL.revokeObjectURL(this.audio.src);
    this.audio.src = URL.createObjectURL(ms);
  }

  /** Append a segment's recorded sound (once) at the segment's offset; a failure only costs the sound. */
  async appendSound(seg) {
    if (!seg.audio) return;
    this.soundOn();
    if (this.soundSegments.has(seg.id)) return;
    this.soundSegments.add(seg.id);
    const ms = this.soundMs;
    try {
      if (ms.readyState !== "open") await new Promise((resolve) => ms.addEventListener("sourceopen", resolve, { once: true }));
      const data = await this.recording.fetchBytes(seg.audio);
      if (ms !== this.soundMs) return;
      if (!this.soundSb) this.soundSb = ms.addSourceBuffer('audio/mp4; codecs="mp4a.40.2"');
      const sb = this.soundSb;
      const done = () => new Promise((resolve) => sb.addEventListener("updateend", resolve, { once: true }));
      if (sb.updating) await done();
      sb.timestampOffset = (seg.start - S.day0) - seg.media_start / 90000;
      sb.appendBuffer(data);
      await done();
    } catch { /* no sound for this segment */ }
  }

  /** Keep the sound on the picture: same time, rate and play state. */
  soundFollow(position) {
    const a = this.audio;
    if (!a) return;
    const v = this.video;
    if (Math.abs(a.currentTime - position) > 0.3) a.currentTime = position;
    if (a.playbackRate !== v.playbackRate) a.playbackRate = v.playbackRate;
    if (v.paused && !a.paused) a.pause();
    if (!v.paused && a.paused) a.play().catch(() => {});
  }

  say(text) {
    this.status.textContent = text || "";
    this.status.hidden = !text;
  }

  async resetMedia() {
    this.ms = new MediaSource();
    this.sb = null;
    this.segment = null;
    const opened = new Promise((resolve) => this.ms.addEventListener("sourceopen", resolve, { once: true }));
    if (this.video.src) URL.revokeObjectURL(this.video.src);
    this.video.src = URL.createObjectURL(this.ms);
    if (this.audio) this.soundReset();
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
      await this.append(await this.recording.fetchBytes(seg.init));
      this.segment = seg.id;
      this.appendSound(seg); // beside the picture, not waited for
    }
    await this.append(await this.recording.fetchBytes(chunk.url));
  }

  bufferedEnd() {
    const b = this.video.buffered;
    return b.length ? b.end(b.length - 1) : 0;
  }

  /** Append chunks until AHEAD seconds are buffered past the playhead (loads further plans as needed). */
  async pump(generation) {
    if (this.pumping) return;
    this.pumping = true;
    const rec = this.recording;
    try {
      while (generation === this.generation) {
        const head = this.video.currentTime;
        if (this.bufferedEnd() - head > AHEAD) break;
        if (!this.next) {
          const end = rec.planRange[1];
          if (end >= S.day0 + DAY || end > Date.now() / 1000) break;
          await rec.loadPlan(end);
          renderBar(this);
          this.next = rec.chunkAt(end);
          if (!this.next) break;
          this.segment = null; // a new plan: re-send init and offset before its first chunk
        }
        const { s, c } = this.next;
        const seg = rec.plan[s];
        await this.appendChunk(seg, seg.chunks[c]);
        this.next = c + 1 < seg.chunks.length ? { s, c: c + 1 } : (s + 1 < rec.plan.length ? { s: s + 1, c: 0 } : null);
      }
    } catch (err) {
      if (generation === this.generation) this.say(t("Could not load the recording: {detail}", { detail: String(err.message || err) }));
    } finally {
      this.pumping = false;
    }
  }

  async seek(wall) {
    const generation = ++this.generation;
    const rec = this.recording;
    this.seeking = true;
    try {
      const [from, to] = rec.planRange;
      if (wall < from || wall > to - 60) await rec.loadPlan(wall);
      renderBar(this);
      if (generation !== this.generation) return;
      const pos = rec.chunkAt(wall);
      if (!pos) {
        this.next = null;
        this.say(t("No recording at this time"));
        return;
      }
      await this.resetMedia();
      this.next = pos;
      const chunk = rec.plan[pos.s].chunks[pos.c];
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

  /** Follow the shared clock: called a few times a second. */
  tick(wall) {
    const position = wall - S.day0;
    const video = this.video;
    if (this.seeking) return;
    if (!this.inBuffer(position)) {
      const recorded = this.recording.recordedAt(wall);
      if (recorded === false && this.next && this.recording.plan[this.next.s].chunks[this.next.c].start > wall) {
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
    this.soundFollow(position);
    if (this.sb && !this.sb.updating && video.buffered.length && video.buffered.start(0) < position - BEHIND) {
      this.sb.remove(0, position - BEHIND / 2);
    }
    this.pump(this.generation);
  }

  destroy() {
    this.generation += 1;
    this.video.pause();
    if (this.video.src) URL.revokeObjectURL(this.video.src);
    if (this.audio) { this.audio.pause(); URL.revokeObjectURL(this.audio.src); }
    this.el.remove();
  }
}
