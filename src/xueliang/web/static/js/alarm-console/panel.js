// Alarms in the cameras section of staff: the live feed drives the queue panel, the badge and the map
// markers; on `raised` the sound, a toast and the nearest cameras (covering first) opened live on the
// wall at once; the detail panel (detail.js) takes the place of the camera detail while an alarm is open.

import { playAlarmSound, soundReady, unlockSoundOnGesture } from "../alarm-client.js";
import { me, toast } from "../api.js";
import { $, h } from "../dom.js";
import { t } from "../i18n.js";
import { alarmToast, updateBadge } from "./bell.js";
import { createDetail } from "./detail.js";
import { createFeed } from "./feed.js";
import { alarmMarker, guardMarker } from "./markers.js";
import { queueItem, sortQueue } from "./queue.js";
import { names } from "./words.js";
import { CLOSED } from "./workflow.js";

/**
 * The cameras section for staff: `map`, `showTab(name)` ("map" | "wall" | "split"), `setWallLayout(n,
 * {onlyGrow})`, `openLive({id}, {tile})`, `regionName(id, fallback)` and `cameraName(id, fallback)` come
 * from console/cameras.js.
 */
export function initAlarmConsole({ map, showTab, openLive, setWallLayout, regionName, cameraName }) {
  if (regionName) names.region = regionName;
  if (cameraName) names.camera = cameraName;
  unlockSoundOnGesture();
  const feed = createFeed();
  const queue = $("#alarm-queue");
  const detailEl = $("#detail");
  let selected = null;

  const detail = createDetail(detailEl, feed, {
    openCamera: (id) => openLive({ id }),
    openCameras: (a) => openCameras(a),
    onMobilization: (a, view, { fit = false } = {}) => {
      const points = view && view.active ? view.points : [];
      map.setOverlay("guard", points.map(guardMarker));
      if (fit && points.length) map.fitPoints([...points, a].filter((p) => p.lat !== null && p.lat !== undefined));
    },
  });

  // Several changes can come in one message or burst: draw the queue and the markers once for them.
  let queued = false;
  function renderQueue() {
    if (queued) return;
    queued = true;
    queueMicrotask(() => { queued = false; drawQueue(); });
  }

  function drawQueue() {
    const open = sortQueue(feed.open());
    $("#alarm-count").textContent = String(open.length);
    $("#alarm-count").classList.toggle("badge-danger", open.some((a) => a.state === "new"));
    queue.replaceChildren(...(open.length ? open.map((a) => queueItem(a, a.id === selected, select))
      : [h("li", { class: "empty" }, t("No open alarms."))]));
    map.setOverlay("alarms", open.filter((a) => a.lat !== null && a.lat !== undefined)
      .map((a) => alarmMarker(a, a.id === selected, select)));
    updateBadge(feed);
  }

  /** The alarm's nearest cameras live on the wall, covering ones first, in tiles 1.. in that order.
   * Resolves when the video requests are answered. */
  function openCameras(a) {
    const cams = (a.cameras || []).slice(0, 4);
    if (!cams.length) return Promise.resolve();
    setWallLayout(cams.length > 1 ? 4 : 1, { onlyGrow: true });
    showTab("split");
    return Promise.allSettled(cams.map((c, i) => openLive({ id: c.camera_id }, { tile: i })));
  }

  function select(id, { cameras = true, opening = null } = {}) {
    const a = feed.store.get(id);
    if (!a) return;
    selected = id;
    // The camera requests go out first: the live picture is what the operator needs soonest.
    if (!opening && cameras) opening = openCameras(a);
    renderQueue();
    detail.show(id, { after: opening });
    // No animation while the video is being set up: every frame of it would compete for the CPU.
    if (a.lat !== null && a.lat !== undefined) map.focusPoint(a.lat, a.lon, 1400, { animate: !opening });
    if (location.hash !== `#alarm-${id}`) history.replaceState(null, "", `#alarm-${id}`);
  }

  feed.on("raised", (a, loud, event) => {
    const current = selected && feed.store.get(selected);
    // Take the operator straight to it unless they are busy with another open alarm. Order matters for
    // the first second: the toast shows, the camera requests go out, then the rest is drawn.
    const take = loud && (!current || CLOSED.has(current.state) || current.id === a.id);
    if (loud) alarmToast(a, event, (id) => select(id));
    const opening = take ? openCameras(a) : null;
    if (take) select(a.id, { opening });
    renderQueue();
    if (loud) playAlarmSound();
  });
  feed.on("change", (a, event) => {
    renderQueue();
    detail.changed(a, event);
    if (event === "escalated" && me.role !== "admin") {
      toast(t("Alarm no. {id} was not acknowledged in time and went to the county.", { id: a.id }), "error", 10000);
    }
    if (event === "pressed") toast(t("Alarm no. {id} pressed again ({n} times).", { id: a.id, n: a.press_count }), "error", 6000);
  });
  feed.on("reset", () => {
    renderQueue();
    const m = /^#alarm-(\d+)$/.exec(location.hash);
    if (m && selected === null && feed.store.get(Number(m[1]))) select(Number(m[1]));
    else if (selected !== null && detail.visible()) detail.refresh();
  });
  feed.on("task", (msg) => detail.task(msg));
  feed.on("notice", (msg) => {
    const box = toast(msg.notice.text, "warn", 15000);
    box.dataset.notice = msg.notice.kind; // e.g. missed_checkpoint, missed_visit
  });

  const soundBtn = $("#alarm-sound");
  if (soundBtn) {
    const mark = () => {
      const ready = soundReady();
      soundBtn.classList.toggle("off", !ready);
      soundBtn.textContent = ready ? t("Sound on") : t("Click to enable sound");
    };
    soundBtn.addEventListener("click", () => { playAlarmSound({ repeats: 1 }); setTimeout(mark, 100); });
    window.addEventListener("pointerdown", () => setTimeout(mark, 100), { once: true });
    mark();
  }
  setInterval(() => { if (feed.open().length) renderQueue(); }, 30000); // keep "n min ago" current
}
