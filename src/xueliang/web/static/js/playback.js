// Recorded video in the console: up to four cameras played in sync on one wall clock, a timeline of
// recorded spans, gaps and evidence locks (24 h down to minutes), keyframe stepping, 1/2/4/8x speed,
// and evidence export / locks.
//
// The page's modules (playback/): state (the shared clock and what is shown), recording (one camera's
// token and plan of segments and chunks), tile (its MediaSource player, in sync through the clock),
// clock (ticking, seeking all tiles), timeline, cameras (the picker), controls (day, play, speed),
// evidence (marks, export, locks), lift (four eyes: asking to see a masked recording unmasked),
// storage (the disk warning).

import { api, can, wireCommon } from "./api.js";
import { $ } from "./dom.js";
import { dateText, dayStart } from "./zoned-time.js";
import { renderCameras, togglePick } from "./playback/cameras.js";
import { renderPlay, seekAll, tickAll } from "./playback/clock.js";
import { wireControls } from "./playback/controls.js";
import { renderMark, wireEvidence } from "./playback/evidence.js";
import { refreshApprovals } from "./playback/lift.js";
import { MAX_TILES, S, setClock } from "./playback/state.js";
import { refreshStorage } from "./playback/storage.js";
import { loadTimelines, setView, wireTimeline } from "./playback/timeline.js";

async function main() {
  wireCommon();
  wireControls();
  wireTimeline({ seek: seekAll });
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
  refreshApprovals(); // four eyes: masked recordings, requests and approved lifts (playback/lift.js)
  renderPlay();
  renderMark();
  refreshStorage();
  setInterval(refreshStorage, 15000);
  setInterval(loadTimelines, 15000);
  setInterval(tickAll, 250);
}

main();
