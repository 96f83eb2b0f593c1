// The day shown (a date in the platform's time zone), play / pause, speed and keyframe steps.

import { $, $$, debounce } from "../dom.js";
import { dayStart } from "../zoned-time.js";
import { renderCameras } from "./cameras.js";
import { renderPlay, seekAll, stepKeyframe } from "./clock.js";
import { DAY, S, now, setClock } from "./state.js";
import { setView } from "./timeline.js";

function setDay(text) {
  S.day0 = dayStart(text);
  const nowWall = Date.now() / 1000;
  const wall = nowWall < S.day0 + DAY ? Math.max(S.day0, nowWall - 300) : S.day0 + 8 * 3600;
  setClock(wall, { playing: false });
  renderPlay();
  setView(wall - 1800, 3600);
  for (const tile of S.tiles.values()) tile.recording.forget();
  seekAll(wall);
}

export function wireControls() {
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
