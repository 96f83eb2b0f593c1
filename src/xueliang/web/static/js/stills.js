// Camera tiles on the phone and the console show a recent picture of the camera instead of an icon:
// GET /api/v1/cameras/{id}/still.jpg, the camera's latest keyframe decoded by the server under the live
// view's rule (cached there a few seconds). A picture loads only for a tile on screen
// (IntersectionObserver) and is refreshed every 10 s while it stays there and the page is visible; it is
// fetched aside first, so the old picture stays until the new one is there. A camera without a picture
// (offline, starting, not allowed, no media engine) keeps its icon. (The TV's tv.js does the same in
// ES2015 for the set-top boxes.)
//
// One URL per camera, fetched and shown as a blob: an <img> would not reload a URL it has shown (so a
// changing query would be needed), and the phone's service worker keeps the last answer of each /api/
// URL, one entry per camera this way. The server's max-age (5 s) is below the refresh period.

export const STILL_EVERY_MS = 10_000;

export function stillPath(cameraId) {
  return `/api/v1/cameras/${cameraId}/still.jpg`;
}

/** Fetches the still of `cameraId`; resolves to an object URL (revoke it when replaced), or null when the
 * camera has no picture now. */
export async function loadStill(cameraId) {
  try {
    const response = await fetch(stillPath(cameraId), { credentials: "same-origin" });
    if (!response.ok || !(response.headers.get("Content-Type") || "").startsWith("image/")) return null;
    return URL.createObjectURL(await response.blob());
  } catch {
    return null;
  }
}

const visible = new Set();
const hooks = new WeakMap(); // slot -> onPicture(slot, shown)
let observer = null;

function picture(slot) {
  let img = slot.querySelector(":scope > img.still");
  if (!img) {
    img = document.createElement("img");
    img.className = "still";
    img.alt = "";
    img.decoding = "async";
    Object.assign(img.style, { position: "absolute", left: "0", top: "0", width: "100%", height: "100%",
      objectFit: "cover", borderRadius: "inherit" });
    if (getComputedStyle(slot).position === "static") slot.style.position = "relative";
    slot.style.overflow = "hidden";
    slot.prepend(img);
  }
  return img;
}

async function refresh(slot) {
  const id = slot.dataset.stillCamera;
  const now = Date.now();
  const [lastId, lastAt] = (slot.dataset.stillWant || "@0").split("@");
  if (lastId === id && now - Number(lastAt) < STILL_EVERY_MS / 2) return; // just asked
  const want = `${id}@${now}`;
  slot.dataset.stillWant = want;
  const url = await loadStill(id);
  if (slot.dataset.stillWant !== want) { // a newer refresh (or another camera) took over
    if (url) URL.revokeObjectURL(url);
    return;
  }
  const shown = url !== null;
  if (shown) {
    const img = picture(slot);
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    img.src = url;
    img.hidden = false;
  } else {
    const img = slot.querySelector(":scope > img.still");
    if (img) img.hidden = true;
  }
  slot.classList.toggle("has-still", shown);
  hooks.get(slot)?.(slot, shown);
}

function tick() {
  if (document.hidden) return;
  for (const slot of visible) {
    if (slot.isConnected) refresh(slot);
    else { visible.delete(slot); observer.unobserve(slot); }
  }
}

/**
 * Shows the still of `cameraId` in `slot` (the element holding the tile's icon) while the slot is on
 * screen; `onPicture(slot, shown)` is told when a picture appears or goes (e.g. to widen the slot).
 * Returns `slot`.
 */
export function watchStill(slot, cameraId, onPicture = null) {
  slot.dataset.stillCamera = String(cameraId);
  if (onPicture) hooks.set(slot, onPicture);
  if (!("IntersectionObserver" in window)) {
    refresh(slot);
    return slot;
  }
  if (!observer) {
    observer = new IntersectionObserver((entries) => {
      for (const e of entries) {
        if (e.isIntersecting) { visible.add(e.target); refresh(e.target); }
        else {
          visible.delete(e.target);
          if (!e.target.isConnected) observer.unobserve(e.target);
        }
      }
    });
    setInterval(tick, STILL_EVERY_MS);
    document.addEventListener("visibilitychange", tick);
  }
  observer.observe(slot);
  return slot;
}
