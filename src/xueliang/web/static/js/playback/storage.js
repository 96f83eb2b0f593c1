// The storage warning: shown while recording is failing for some camera or the disk runs low.

import { api } from "../api.js";
import { $, clear, h } from "../dom.js";
import { localName, t } from "../i18n.js";
import { S } from "./state.js";

export async function refreshStorage() {
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
