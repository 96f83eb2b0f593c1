// What one camera recorded around the playhead, and how to fetch it. /api/v1/recordings/playback gives
// a short-lived token (opening is audited, and a refresh names the audited view it renews); the plan (/api/v1/playback/{camera}/plan.json) lists each
// recorded segment with its chunks (whole GOPs as they lie on disk), keyframes and wall-clock start.

import { api } from "../api.js";
import { DAY, S, iso } from "./state.js";

const TOKEN_REFRESH_MS = 200_000; // tokens live 300 s

export class Recording {
  constructor(camera) {
    this.camera = camera;
    this.token = "";
    this.tokenAt = 0;
    this.view = null; // the audited view of the shown day that refreshes renew
    this.plan = [];
    this.planRange = [0, 0];
  }

  /** Another day is shown: a new token and a new plan on the next read. */
  forget() {
    this.token = "";
    this.view = null;
    this.planRange = [0, 0];
  }

  async ensureToken() {
    if (!this.token || Date.now() - this.tokenAt > TOKEN_REFRESH_MS) {
      const range = { camera_id: this.camera.id, from: iso(S.day0), to: iso(S.day0 + DAY) };
      const open = (body) => api("/recordings/playback", { method: "POST", quiet: true, body });
      let out = null;
      if (this.view) {
        // Renew the token of the view already open (not audited again); if the server knows no such
        // view any more, open a new one (audited).
        out = await open({ ...range, refresh: true, view: this.view }).catch(() => null);
      }
      if (!out) out = await open(range);
      this.view = out.view;
      this.token = out.token;
      // Where this camera's recordings are served: /api/v1/playback/{id}, or /api/v1/playback/masked/{id}
      // when its privacy masks are filled (docs/privacy.md); the token opens only that one.
      this.base = out.plan.split("/plan.json")[0];
      this.masked = Boolean(out.masked);
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
    await this.ensureToken();
    let response = await fetch(this.withToken(url));
    if (response.status === 401) {
      this.token = "";
      await this.ensureToken();
      response = await fetch(this.withToken(url));
    }
    if (!response.ok) throw new Error(`${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  async loadPlan(wall) {
    const from = Math.max(S.day0, wall - 60);
    const to = Math.min(S.day0 + DAY, Math.max(wall, from) + 900);
    if (to <= from) return;
    await this.ensureToken();
    const url = `${this.base}/plan.json?from=${encodeURIComponent(iso(from))}&to=${encodeURIComponent(iso(to))}`;
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

  /** Whether this camera has video at `wall` (by the plan); undefined when the plan does not cover it. */
  recordedAt(wall) {
    const [from, to] = this.planRange;
    if (wall < from || wall > to) return undefined;
    return this.plan.some((seg) => seg.chunks.some((c) => c.start - 0.05 <= wall && wall < c.end));
  }

  /** Where this camera's next video starts after `wall` (for skipping a gap all cameras share). */
  nextStart(wall) {
    const pos = this.chunkAt(wall);
    return pos ? this.plan[pos.s].chunks[pos.c].start : null;
  }
}
