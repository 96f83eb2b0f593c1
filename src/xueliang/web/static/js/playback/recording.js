// What one camera recorded around the playhead, and how to fetch it. /api/v1/recordings/playback gives
// a short-lived token (opening is audited, and a refresh names the audited view it renews); the plan (/api/v1/playback/{camera}/plan.json) lists each
// recorded segment with its chunks (whole GOPs as they lie on disk), keyframes and wall-clock start.

import { api } from "../api.js";
import { DAY, S, iso } from "./state.js";

const TOKEN_REFRESH_MS = 200_000; // tokens live 300 s

// A masked camera (docs/privacy.md) plays from /api/v1/playback/masked/{id} unless the user holds an
// approved lift (four eyes, /recordings/approvals): inside the approved range the recording is opened
// with the approval (its token is bound to it and serves only that range), outside it stays masked.
// So there are two "modes", each with its own audited view and token: "plain" (the day, masked or not
// as the server says) and "lift" (the approved range, unmasked). A plan never spans both.

const MS = 0.002; // the approval's bounds as the server has them, in ms, kept inside by this margin

export class Recording {
  constructor(camera) {
    this.camera = camera;
    this.modes = { plain: null, lift: null }; // {token, at, view, base, masked, approval}
    this.lift = null; // {id, from, to, until}: an approved lift of this camera's masks (epoch seconds)
    this.planMode = "plain";
    this.plan = [];
    this.planRange = [0, 0];
    this.onLiftRefused = null; // told when the server no longer honours the lift
  }

  get token() { return this.modes[this.planMode]?.token || ""; }
  get masked() { return Boolean(this.modes[this.planMode]?.masked); }
  get approval() { return this.modes[this.planMode]?.approval ?? null; }

  /** Another day is shown: a new token and a new plan on the next read. */
  forget() {
    this.modes = { plain: null, lift: null };
    this.planRange = [0, 0];
  }

  /** An approved lift (or null): plays unmasked inside its range from the next plan on. */
  setLift(lift) {
    const same = (lift?.id ?? null) === (this.lift?.id ?? null);
    this.lift = lift;
    if (!same) {
      this.modes.lift = null;
      this.planRange = [0, 0];
    }
    return !same;
  }

  /** "lift" where an approved lift covers `wall`, else "plain". */
  modeAt(wall) {
    const l = this.lift;
    return l && l.until * 1000 > Date.now() && l.from + MS <= wall && wall < l.to - MS ? "lift" : "plain";
  }

  async ensureToken(mode = this.planMode) {
    const state = this.modes[mode];
    if (state && state.token && Date.now() - state.at <= TOKEN_REFRESH_MS) return state.token;
    const l = this.lift;
    const range = mode === "lift"
      ? { camera_id: this.camera.id, from: iso(l.from + MS), to: iso(l.to - MS), approval: l.id }
      : { camera_id: this.camera.id, from: iso(S.day0), to: iso(S.day0 + DAY) };
    const open = (body) => api("/recordings/playback", { method: "POST", quiet: true, body });
    let out = null;
    if (state && state.view) {
      // Renew the token of the view already open (not audited again); if the server knows no such
      // view any more, open a new one (audited).
      out = await open({ ...range, refresh: true, view: state.view }).catch(() => null);
    }
    if (!out) {
      try {
        out = await open(range);
      } catch (err) {
        if (mode !== "lift") throw err;
        // The grant lapsed or was withdrawn: back to the masked recording.
        this.lift = null;
        this.modes.lift = null;
        if (this.onLiftRefused) this.onLiftRefused(err);
        throw err;
      }
    }
    // Where this camera's recordings are served: /api/v1/playback/{id}, or /api/v1/playback/masked/{id}
    // when its privacy masks are filled (docs/privacy.md); the token opens only that one.
    this.modes[mode] = {
      token: out.token, at: Date.now(), view: out.view, base: out.plan.split("/plan.json")[0],
      masked: Boolean(out.masked), approval: out.approval ?? null,
    };
    return out.token;
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
      this.modes[this.planMode].token = "";
      await this.ensureToken();
      response = await fetch(this.withToken(url));
    }
    if (!response.ok) throw new Error(`${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  async loadPlan(wall) {
    let from = Math.max(S.day0, wall - 60);
    let to = Math.min(S.day0 + DAY, Math.max(wall, from) + 900);
    const mode = this.modeAt(wall);
    const l = this.lift;
    if (mode === "lift") {
      from = Math.max(from, l.from + MS);
      to = Math.min(to, l.to - MS);
    } else if (l && wall < l.from) {
      to = Math.min(to, l.from + MS);
    } else if (l && wall >= l.to - MS) {
      from = Math.max(from, l.to - MS);
    }
    if (to <= from) return;
    this.planMode = mode;
    await this.ensureToken(mode);
    const base = this.modes[mode].base;
    const url = `${base}/plan.json?from=${encodeURIComponent(iso(from))}&to=${encodeURIComponent(iso(to))}`;
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
