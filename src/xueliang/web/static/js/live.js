// Open a camera and play it: the one way every terminal starts live video (console wall, TV, phone).
// POST /cameras/{id}/open grants short-lived stream URLs (the server audits each grant; a refusal is
// shown to the user by api()), and the player takes fresh ones through openStreams when they expire.

import { api, openStreams } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { createPlayer } from "./player.js";

function message(text) {
  return h("div", { class: "player-msg" }, h("strong", {}, text));
}

/** A player for streams already granted for `cameraId`, in `host`; onRetry is its "Try again". */
export function playLive(host, cameraId, streams, { onRetry } = {}) {
  return createPlayer(host, streams, { onRetry, reopen: () => openStreams(cameraId) });
}

/**
 * Opens camera `cameraId` live. Options:
 *   host         the element the player goes in
 *   connecting   show "Connecting…" in `host` while the server answers
 *   current()    false once the viewer has moved on (another camera, another screen): the answer is dropped
 *   onRetry()    the player's "Try again"
 *   unavailable  a text for `host` when the camera cannot be opened (else `host` is left as it is)
 *   show(answer) instead of playing in `host`: the caller places the answer ({camera, streams}) itself,
 *                e.g. the console's wall, which picks a tile and keeps the streams for a new layout
 * Resolves to the player (or what `show` returned), or null when refused or dropped.
 */
export async function openLive(cameraId, {
  host = null, connecting = false, current = () => true, onRetry, unavailable = "", show = null,
} = {}) {
  if (connecting && host) host.replaceChildren(message(t("Connecting…")));
  let out;
  try {
    out = await api(`/cameras/${cameraId}/open`, { method: "POST" });
  } catch {
    if (unavailable && host && current()) host.replaceChildren(message(unavailable));
    return null;
  }
  if (!current()) return null;
  if (show) return show(out);
  return playLive(host, cameraId, out.streams, { onRetry });
}
