// The SVG map, drawn from our own GeoJSON (/api/v1/regions/map): no tile server, works offline.
// Projection: equirectangular around the centre of the data, in metres (x east, y south), so a camera's
// field-of-view range in metres is drawn to scale. Markers and labels are drawn in screen pixels
// (a group scaled by metres-per-pixel), so they keep their size while the map zooms.

import { h } from "./dom.js";
import { t, localName, kindLabel } from "./i18n.js";

const M_PER_DEG_LAT = 110574;
const M_PER_DEG_LON = 111320; // at the equator; times cos(latitude)
const LEVEL_ORDER = ["province", "county", "township", "village", "grid"];

function rings(geometry) {
  if (!geometry) return [];
  if (geometry.type === "Polygon") return geometry.coordinates;
  if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
  return [];
}

/** Path for a field-of-view wedge: apex (x, y), heading 0 = north, clockwise; angles in degrees. */
export function wedgePath(x, y, heading, fov, range) {
  if (fov >= 360) {
    return `M${x - range},${y}a${range},${range} 0 1,0 ${2 * range},0a${range},${range} 0 1,0 ${-2 * range},0Z`;
  }
  const rad = (deg) => (deg * Math.PI) / 180;
  const a0 = rad(heading - fov / 2);
  const a1 = rad(heading + fov / 2);
  // North is -y on screen; clockwise on screen is the positive sweep direction in SVG.
  const p0 = [x + range * Math.sin(a0), y - range * Math.cos(a0)];
  const p1 = [x + range * Math.sin(a1), y - range * Math.cos(a1)];
  const large = fov > 180 ? 1 : 0;
  const f = (n) => n.toFixed(2);
  return `M${f(x)},${f(y)}L${f(p0[0])},${f(p0[1])}A${f(range)},${f(range)} 0 ${large},1 ${f(p1[0])},${f(p1[1])}Z`;
}

function niceLength(target) {
  const pow = 10 ** Math.floor(Math.log10(target));
  for (const step of [1, 2, 5, 10]) if (step * pow >= target) return step * pow;
  return 10 * pow;
}

export function createMap(host, geojson, { onCameraClick, onRegionClick } = {}) {
  const features = (geojson && geojson.features) || [];
  const regionFeatures = features.filter((f) => f.properties.kind === "region");
  const placeFeatures = features.filter((f) => f.geometry && f.geometry.type === "Point");

  // Reference point: the middle of everything we draw.
  let minLon = Infinity; let maxLon = -Infinity; let minLat = Infinity; let maxLat = -Infinity;
  const extend = ([lon, lat]) => {
    minLon = Math.min(minLon, lon); maxLon = Math.max(maxLon, lon);
    minLat = Math.min(minLat, lat); maxLat = Math.max(maxLat, lat);
  };
  for (const f of regionFeatures) for (const ring of rings(f.geometry)) ring.forEach(extend);
  for (const f of placeFeatures) extend(f.geometry.coordinates);
  const lat0 = Number.isFinite(minLat) ? (minLat + maxLat) / 2 : 0;
  const lon0 = Number.isFinite(minLon) ? (minLon + maxLon) / 2 : 0;
  const kx = Math.cos((lat0 * Math.PI) / 180) * M_PER_DEG_LON;
  const project = (lon, lat) => [(lon - lon0) * kx, -(lat - lat0) * M_PER_DEG_LAT];

  const boundsOf = (points) => {
    const b = [Infinity, Infinity, -Infinity, -Infinity];
    for (const [x, y] of points) {
      b[0] = Math.min(b[0], x); b[1] = Math.min(b[1], y); b[2] = Math.max(b[2], x); b[3] = Math.max(b[3], y);
    }
    return Number.isFinite(b[0]) ? b : null;
  };

  const svg = h("svg:svg", { class: "map-svg", role: "group", "aria-label": t("Map"), tabindex: "-1" });
  const gRegions = h("svg:g", { class: "map-regions" });
  const gLabels = h("svg:g", { class: "map-labels" });
  const gPlaces = h("svg:g", { class: "map-places" });
  const gCams = h("svg:g", { class: "map-cameras" });
  const gOverlay = h("svg:g", { class: "map-overlay" }); // alarms, guard points: above everything
  svg.append(gRegions, gLabels, gPlaces, gCams, gOverlay);

  const pins = []; // {el, x, y}: groups drawn in pixels
  const pin = (parent, x, y, cls, ...children) => {
    const el = h("svg:g", { class: cls }, ...children);
    parent.append(el);
    const rec = { el, x, y };
    pins.push(rec);
    return rec;
  };

  // Regions, coarse to fine so villages sit above their township.
  const villageLabels = []; // {rec, text, b}
  const regionPaths = new Map();
  const regionBounds = new Map();
  const sorted = [...regionFeatures].sort((a, b) => LEVEL_ORDER.indexOf(a.properties.level)
    - LEVEL_ORDER.indexOf(b.properties.level));
  for (const f of sorted) {
    const p = f.properties;
    const projected = rings(f.geometry).map((ring) => ring.map(([lon, lat]) => project(lon, lat)));
    const d = projected.map((ring) => `M${ring.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join("L")}Z`).join("");
    const clickable = p.level === "village" || p.level === "grid";
    const path = h("svg:path", { d, class: `region level-${p.level}${clickable ? " clickable" : ""}`,
      dataset: { regionId: p.id } }, h("svg:title", {}, localName(p)));
    if (clickable && onRegionClick) path.addEventListener("click", () => { if (!dragged) onRegionClick(p.id); });
    gRegions.append(path);
    regionPaths.set(p.id, path);
    regionBounds.set(p.id, boundsOf(projected.flat()));
    const b = regionBounds.get(p.id);
    if (b && p.level === "village") {
      // A name tag just outside the village boundary, on whichever side is clear of markers (see placeLabels).
      const text = h("svg:text", { "text-anchor": "middle" }, localName(p));
      villageLabels.push({ rec: pin(gLabels, (b[0] + b[2]) / 2, b[1], "label label-village", text), text, b });
    } else if (b && p.level === "township") {
      pin(gLabels, (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, "label label-township", h("svg:text", {
        "text-anchor": "middle", dy: "0.35em" }, localName(p)));
    }
  }

  // Settlements and village exits (their positions also steer the village labels).
  const placePoints = [];
  for (const f of placeFeatures) {
    const p = f.properties;
    if (p.kind !== "settlement" && p.kind !== "exit") continue;
    const [x, y] = project(...f.geometry.coordinates);
    placePoints.push([x, y]);
    const title = h("svg:title", {}, `${localName(p)} · ${p.kind === "exit" ? t("Village exit") : t("Settlement")}`);
    if (p.kind === "settlement") {
      pin(gPlaces, x, y, "place place-settlement", title, h("svg:rect", { x: -4, y: -4, width: 8, height: 8, rx: 2 }),
        h("svg:text", { x: 7, dy: "0.35em", class: "place-label" }, localName(p)));
    } else {
      pin(gPlaces, x, y, "place place-exit", title, h("svg:path", { d: "M0,-5L5,4L-5,4Z" }));
    }
  }

  // Overlays: zoom buttons, legend, scale bar.
  const zoomIn = h("button", { class: "map-btn", type: "button", title: t("Zoom in"), "aria-label": t("Zoom in") }, "+");
  const zoomOut = h("button", { class: "map-btn", type: "button", title: t("Zoom out"), "aria-label": t("Zoom out") }, "−");
  const zoomFit = h("button", { class: "map-btn", type: "button", title: t("Show everything"),
    "aria-label": t("Show everything") }, "⤢");
  const scaleLabel = h("span", {});
  const scaleBar = h("div", { class: "map-scale" }, h("div", { class: "map-scale-bar" }), scaleLabel);
  const legendItem = (cls, label) => h("li", {}, h("span", { class: `legend-sym ${cls}` }), label);
  const legend = h("ul", { class: "map-legend" },
    legendItem("kind-key_place", kindLabel("key_place")),
    legendItem("kind-intersection", kindLabel("intersection")),
    legendItem("kind-settlement", kindLabel("settlement")),
    legendItem("legend-fov", t("Field of view")),
    legendItem("legend-settlement", t("Residential group")),
    legendItem("legend-exit", t("Village exit")));
  host.append(svg, h("div", { class: "map-zoom" }, zoomIn, zoomOut, zoomFit), legend, scaleBar);

  // View box, kept at the element's aspect ratio so metres-per-pixel is the same both ways.
  let vb = { x: -500, y: -500, w: 1000, h: 1000 };
  let all = boundsOf([...regionBounds.values()].filter(Boolean).flatMap((b) => [[b[0], b[1]], [b[2], b[3]]]))
    || [-1000, -1000, 1000, 1000];
  const size = () => [Math.max(svg.clientWidth, 1), Math.max(svg.clientHeight, 1)];
  const unit = () => vb.w / size()[0];

  /** Puts each village name above, below, left or right of its boundary: the side with fewest markers. */
  let camPoints = [];
  function placeLabels(u) {
    const points = placePoints.concat(camPoints);
    for (const label of villageLabels) {
      const [x0, y0, x1, y1] = label.b;
      const cx = (x0 + x1) / 2;
      const cy = (y0 + y1) / 2;
      if (!label.width) label.width = label.text.getComputedTextLength ? label.text.getComputedTextLength() || 40 : 40;
      const w = (label.width + 8) * u;
      const sides = [
        { x: cx, y: y0, anchor: "middle", dx: 0, dy: -7, box: [cx - w / 2, y0 - 22 * u, cx + w / 2, y0 - 2 * u] },
        { x: cx, y: y1, anchor: "middle", dx: 0, dy: 17, box: [cx - w / 2, y1 + 2 * u, cx + w / 2, y1 + 22 * u] },
        { x: x1, y: cy, anchor: "start", dx: 9, dy: 5, box: [x1 + 2 * u, cy - 10 * u, x1 + w + 4 * u, cy + 10 * u] },
        { x: x0, y: cy, anchor: "end", dx: -9, dy: 5, box: [x0 - w - 4 * u, cy - 10 * u, x0 - 2 * u, cy + 10 * u] },
      ];
      let best = sides[0];
      let fewest = Infinity;
      for (const side of sides) {
        const [bx0, by0, bx1, by1] = side.box;
        const hits = points.filter(([px, py]) => px > bx0 - 8 * u && px < bx1 + 8 * u && py > by0 - 8 * u
          && py < by1 + 8 * u).length;
        if (hits < fewest) { fewest = hits; best = side; }
      }
      label.rec.x = best.x;
      label.rec.y = best.y;
      label.text.setAttribute("text-anchor", best.anchor);
      label.text.setAttribute("dx", best.dx);
      label.text.setAttribute("dy", best.dy);
    }
  }

  function apply() {
    svg.setAttribute("viewBox", `${vb.x} ${vb.y} ${vb.w} ${vb.h}`);
    const u = unit();
    placeLabels(u);
    for (const p of pins) p.el.setAttribute("transform", `translate(${p.x.toFixed(1)} ${p.y.toFixed(1)}) scale(${u})`);
    svg.classList.toggle("zoom-near", u < 4);
    svg.classList.toggle("zoom-far", u > 14);
    const len = niceLength(u * 90);
    scaleBar.firstChild.style.width = `${len / u}px`;
    scaleLabel.textContent = len >= 1000 ? t("{n} km", { n: len / 1000 }) : t("{n} m", { n: len });
  }

  function setView(cx, cy, w) {
    const [pw, ph] = size();
    const maxW = (all[2] - all[0] + 2000) * 4;
    w = Math.min(Math.max(w, 150), maxW);
    vb = { x: cx - w / 2, y: cy - (w * ph / pw) / 2, w, h: w * ph / pw };
    apply();
  }

  let anim = 0;
  function animateTo(cx, cy, w) {
    cancelAnimationFrame(anim);
    const from = { cx: vb.x + vb.w / 2, cy: vb.y + vb.h / 2, w: vb.w };
    const start = performance.now();
    const step = (now) => {
      const k = Math.min((now - start) / 260, 1);
      const e = 1 - (1 - k) ** 3;
      setView(from.cx + (cx - from.cx) * e, from.cy + (cy - from.cy) * e, from.w * (w / from.w) ** e);
      if (k < 1) anim = requestAnimationFrame(step);
    };
    anim = requestAnimationFrame(step);
  }

  function fitBounds(b, animate = true) {
    if (!b) return;
    const [pw, ph] = size();
    const bw = Math.max(b[2] - b[0], 200);
    const bh = Math.max(b[3] - b[1], 200);
    const w = Math.max(bw, bh * pw / ph) * 1.12;
    const args = [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, w];
    if (animate) animateTo(...args); else setView(...args);
  }

  // Wheel zoom around the pointer; drag to pan (a drag never counts as a click on what is under it).
  const toMap = (clientX, clientY) => {
    const r = svg.getBoundingClientRect();
    return [vb.x + ((clientX - r.left) / r.width) * vb.w, vb.y + ((clientY - r.top) / r.height) * vb.h];
  };
  function zoomAt(factor, mx, my) {
    const [pw, ph] = size();
    const w = Math.min(Math.max(vb.w * factor, 150), (all[2] - all[0] + 2000) * 4);
    const k = w / vb.w;
    vb = { x: mx - (mx - vb.x) * k, y: my - (my - vb.y) * k, w, h: w * ph / pw };
    apply();
  }
  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    cancelAnimationFrame(anim);
    zoomAt(1.0015 ** e.deltaY, ...toMap(e.clientX, e.clientY));
  }, { passive: false });
  let drag = null;
  let dragged = false;
  svg.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY, vbx: vb.x, vby: vb.y, id: e.pointerId, moving: false };
    dragged = false;
  });
  svg.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    if (!drag.moving && Math.hypot(dx, dy) < 4) return;
    if (!drag.moving) { drag.moving = true; svg.setPointerCapture(drag.id); svg.classList.add("dragging"); }
    const u = unit();
    vb.x = drag.vbx - dx * u;
    vb.y = drag.vby - dy * u;
    apply();
  });
  const endDrag = () => {
    if (drag && drag.moving) { dragged = true; svg.classList.remove("dragging"); setTimeout(() => { dragged = false; }, 0); }
    drag = null;
  };
  svg.addEventListener("pointerup", endDrag);
  svg.addEventListener("pointercancel", endDrag);
  const centre = () => [vb.x + vb.w / 2, vb.y + vb.h / 2];
  zoomIn.addEventListener("click", () => animateTo(...centre(), vb.w / 1.6));
  zoomOut.addEventListener("click", () => animateTo(...centre(), vb.w * 1.6));
  zoomFit.addEventListener("click", () => fitBounds(all));

  new ResizeObserver(() => {
    const [cx, cy] = centre();
    setView(cx, cy, vb.w);
  }).observe(svg);

  // Cameras: a dot (pixels) plus a field-of-view wedge (metres, to scale).
  const camMarkers = new Map();
  let camPins = [];
  let selectedId = null;
  let firstCameras = true;

  function setCameras(cameras) {
    for (const p of camPins) pins.splice(pins.indexOf(p), 1);
    camPins = [];
    camMarkers.clear();
    gCams.replaceChildren();
    camPoints = cameras.map((cam) => project(cam.lon, cam.lat));
    if (firstCameras) {
      // The first set (the whole scope) also widens the home view, wedges included.
      firstCameras = false;
      const reach = cameras.flatMap((cam, i) => {
        const [x, y] = camPoints[i];
        return [[x - cam.fov_range, y - cam.fov_range], [x + cam.fov_range, y + cam.fov_range]];
      });
      const b = boundsOf(reach.concat([[all[0], all[1]], [all[2], all[3]]]));
      if (b) { all = b; fitBounds(all, false); }
    }
    for (const cam of cameras) {
      const [x, y] = project(cam.lon, cam.lat);
      const marker = h("svg:g", {
        class: `cam-marker kind-${cam.kind}${cam.enabled ? "" : " off"}${cam.id === selectedId ? " selected" : ""}`,
        dataset: { cameraId: cam.id }, tabindex: "0", role: "button", "aria-label": localName(cam),
      }, h("svg:title", {}, `${localName(cam)} · ${kindLabel(cam.kind)}`),
      h("svg:path", { class: "cam-fov", d: wedgePath(x, y, cam.heading, cam.fov_angle, cam.fov_range) }));
      const rad = (cam.heading * Math.PI) / 180;
      const dot = pin(marker, x, y, "cam-pin",
        h("svg:line", { class: "cam-dir", x1: 0, y1: 0, x2: (12 * Math.sin(rad)).toFixed(2), y2: (-12 * Math.cos(rad)).toFixed(2) }),
        h("svg:circle", { class: "cam-dot", r: 5 }));
      camPins.push(dot);
      const activate = () => { if (!dragged && onCameraClick) onCameraClick(cam); };
      marker.addEventListener("click", activate);
      marker.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); activate(); } });
      gCams.append(marker);
      camMarkers.set(cam.id, { marker, x, y });
    }
    apply();
  }

  function select(id, { reveal = false } = {}) {
    selectedId = id;
    for (const [cid, m] of camMarkers) m.marker.classList.toggle("selected", cid === id);
    const m = camMarkers.get(id);
    if (!m) return;
    gCams.append(m.marker); // on top
    const margin = vb.w * 0.08;
    const outside = m.x < vb.x + margin || m.x > vb.x + vb.w - margin || m.y < vb.y + margin || m.y > vb.y + vb.h - margin;
    if (reveal && (outside || unit() > 6)) animateTo(m.x, m.y, Math.min(vb.w, 1600));
  }

  /**
   * A named layer of markers drawn in pixels above the cameras (e.g. "alarms", "guard"): each item is
   * {lat, lon, cls, title, nodes: [SVG elements centred on 0,0], onClick}. Replaces the layer's markers.
   */
  const overlays = new Map();
  function setOverlay(name, items) {
    const old = overlays.get(name);
    if (old) {
      for (const rec of old.recs) pins.splice(pins.indexOf(rec), 1);
      old.group.remove();
    }
    const group = h("svg:g", { class: `overlay overlay-${name}` });
    const recs = [];
    for (const item of items) {
      const [x, y] = project(item.lon, item.lat);
      const rec = pin(group, x, y, `overlay-pin ${item.cls || ""}`, item.title ? h("svg:title", {}, item.title) : null,
        ...(item.nodes || []));
      if (item.onClick) {
        rec.el.setAttribute("tabindex", "0");
        rec.el.setAttribute("role", "button");
        rec.el.addEventListener("click", () => { if (!dragged) item.onClick(); });
        rec.el.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); item.onClick(); } });
      }
      if (item.dataset) Object.assign(rec.el.dataset, item.dataset);
      recs.push(rec);
    }
    gOverlay.append(group);
    overlays.set(name, { group, recs });
    apply();
  }

  /** Animates to show all of `points` ([{lat, lon}]), with a margin. */
  function fitPoints(points) {
    const b = boundsOf(points.map((p) => project(p.lon, p.lat)));
    if (b) fitBounds([b[0] - 150, b[1] - 150, b[2] + 150, b[3] + 150]);
  }

  /** Moves (animated unless `animate` is false) to a point; `width` is the visible width in metres. */
  function focusPoint(lat, lon, width = 1200, { animate = true } = {}) {
    const [x, y] = project(lon, lat);
    if (animate) animateTo(x, y, width);
    else { cancelAnimationFrame(anim); setView(x, y, width); }
  }

  function highlightRegion(id) {
    for (const [rid, path] of regionPaths) path.classList.toggle("active", rid === id);
  }

  /** Zooms to a region's boundary; without one, to the given cameras. */
  function showRegion(id, cameras = []) {
    highlightRegion(id);
    const b = regionBounds.get(id) || boundsOf(cameras.map((c) => project(c.lon, c.lat)));
    fitBounds(b || all);
  }

  // First view: everything (the caller's scope), drawn once the element has a size.
  if (!regionBounds.size && placeFeatures.length) all = boundsOf(placeFeatures.map((f) => project(...f.geometry.coordinates)));
  requestAnimationFrame(() => fitBounds(all, false));
  fitBounds(all, false);

  return {
    svg, setCameras, select, showRegion, highlightRegion, fitAll: () => fitBounds(all), setOverlay, focusPoint, fitPoints,
    markerCount: () => camMarkers.size,
  };
}
