// A small SVG map for the grid pages, drawn from our own GeoJSON (no tiles, so it works offline on the
// phone): village boundaries, a route's planned line, numbered checkpoints (done ones filled), points of
// interest, blind-spot polygons. Equirectangular metres around the data's centre; a click on the map gives
// [lon, lat] (the route editor's points). Wheel / buttons zoom, drag pans.

import { h } from "../dom.js";
import { t } from "../i18n.js";

const M_LAT = 110574;
const M_LON = 111320;

function rings(geometry) {
  if (!geometry) return [];
  if (geometry.type === "Polygon") return geometry.coordinates;
  if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
  return [];
}

export function createGridMap(host, { onClick } = {}) {
  const svg = h("svg:svg", { class: "gmap-svg", role: "group", "aria-label": t("Map"),
    preserveAspectRatio: "xMidYMid meet" });
  const layers = {};
  for (const name of ["regions", "blind", "line", "places", "points", "me"]) {
    layers[name] = h("svg:g", { class: `gmap-${name}` });
    svg.append(layers[name]);
  }
  const zoomIn = h("button", { type: "button", class: "gmap-btn", "aria-label": t("Zoom in"), title: t("Zoom in") }, "+");
  const zoomOut = h("button", { type: "button", class: "gmap-btn", "aria-label": t("Zoom out"), title: t("Zoom out") }, "−");
  const fitBtn = h("button", { type: "button", class: "gmap-btn", "aria-label": t("Show everything"),
    title: t("Show everything") }, "⤢");
  host.classList.add("gmap");
  host.replaceChildren(svg, h("div", { class: "gmap-zoom" }, zoomIn, zoomOut, fitBtn));

  let lat0 = null; let lon0 = null; let kx = M_LON;
  const project = (lon, lat) => {
    if (lat0 === null) { lat0 = lat; lon0 = lon; kx = Math.cos((lat0 * Math.PI) / 180) * M_LON; }
    return [(lon - lon0) * kx, -(lat - lat0) * M_LAT];
  };
  const unproject = (x, y) => [lon0 + x / kx, lat0 - y / M_LAT];
  let home = [-500, -500, 1000, 1000];
  let vb = [...home];
  const apply = () => {
    svg.setAttribute("viewBox", vb.map((n) => n.toFixed(1)).join(" "));
    // Markers keep their on-screen size: scale by metres per pixel.
    const u = vb[2] / Math.max(svg.clientWidth || host.clientWidth || 1, 1);
    svg.style.setProperty("--u", String(u));
    for (const g of svg.querySelectorAll("[data-x]")) {
      g.setAttribute("transform", `translate(${g.dataset.x} ${g.dataset.y}) scale(${u.toFixed(3)})`);
    }
    for (const p of svg.querySelectorAll(".gmap-stroke")) p.setAttribute("stroke-width", String((Number(p.dataset.px) || 2) * u));
  };
  const setVb = (x, y, w, hh) => { vb = [x, y, w, hh]; apply(); };
  const zoom = (k, cx = vb[0] + vb[2] / 2, cy = vb[1] + vb[3] / 2) => {
    setVb(cx - (cx - vb[0]) * k, cy - (cy - vb[1]) * k, vb[2] * k, vb[3] * k);
  };
  zoomIn.addEventListener("click", () => zoom(1 / 1.6));
  zoomOut.addEventListener("click", () => zoom(1.6));
  fitBtn.addEventListener("click", () => setVb(...home));
  const toMap = (e) => {
    const r = svg.getBoundingClientRect();
    const s = Math.max(vb[2] / r.width, vb[3] / r.height);
    const ox = vb[0] + vb[2] / 2 - (r.width * s) / 2;
    const oy = vb[1] + vb[3] / 2 - (r.height * s) / 2;
    return [ox + (e.clientX - r.left) * s, oy + (e.clientY - r.top) * s];
  };
  svg.addEventListener("wheel", (e) => { e.preventDefault(); zoom(1.0015 ** e.deltaY, ...toMap(e)); }, { passive: false });
  let drag = null;
  let moved = false;
  svg.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY, vb: [...vb], id: e.pointerId }; moved = false; });
  svg.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x; const dy = e.clientY - drag.y;
    if (!moved && Math.hypot(dx, dy) < 5) return;
    if (!moved) svg.setPointerCapture(drag.id);
    moved = true;
    const r = svg.getBoundingClientRect();
    const s = Math.max(vb[2] / r.width, vb[3] / r.height);
    setVb(drag.vb[0] - dx * s, drag.vb[1] - dy * s, vb[2], vb[3]);
  });
  svg.addEventListener("pointerup", (e) => {
    const wasDrag = moved;
    drag = null; moved = false;
    if (!wasDrag && onClick && e.button === 0) onClick(unproject(...toMap(e)), e);
  });
  new ResizeObserver(apply).observe(svg);

  const pathOf = (coords, close) => coords.length
    ? `M${coords.map(([lon, lat]) => project(lon, lat).map((n) => n.toFixed(1)).join(",")).join("L")}${close ? "Z" : ""}` : "";

  /** Fits the view to [[lon, lat], ...] (with a margin); also the "show everything" view. */
  function fit(points) {
    const xy = points.map(([lon, lat]) => project(lon, lat));
    if (!xy.length) return;
    const xs = xy.map((p) => p[0]); const ys = xy.map((p) => p[1]);
    const w = Math.max(Math.max(...xs) - Math.min(...xs), 300) * 1.15;
    const hh = Math.max(Math.max(...ys) - Math.min(...ys), 300) * 1.15;
    const cx = (Math.max(...xs) + Math.min(...xs)) / 2; const cy = (Math.max(...ys) + Math.min(...ys)) / 2;
    home = [cx - w / 2, cy - hh / 2, w, hh];
    setVb(...home);
  }

  function pin(layer, lon, lat, cls, title, ...nodes) {
    const [x, y] = project(lon, lat);
    const g = h("svg:g", { class: cls, dataset: { x: x.toFixed(1), y: y.toFixed(1) } },
      title ? h("svg:title", {}, title) : null, ...nodes);
    layer.append(g);
    return g;
  }

  return {
    svg,
    fit,
    /** Village (and grid) boundaries and places (settlements, exits) from /regions/map. */
    setRegions(geojson) {
      layers.regions.replaceChildren();
      layers.places.replaceChildren();
      for (const f of (geojson && geojson.features) || []) {
        const p = f.properties;
        if (p.kind === "region") {
          const d = rings(f.geometry).map((r) => pathOf(r, true)).join("");
          layers.regions.append(h("svg:path", { d, class: `gmap-region level-${p.level}`, dataset: { regionId: p.id } },
            h("svg:title", {}, p.name)));
        } else if (f.geometry && f.geometry.type === "Point") {
          const [lon, lat] = f.geometry.coordinates;
          pin(layers.places, lon, lat, `gmap-place place-${p.kind}`, p.name,
            p.kind === "exit" ? h("svg:path", { d: "M0,-5L5,4L-5,4Z" }) : h("svg:rect", { x: -4, y: -4, width: 8, height: 8, rx: 2 }));
        }
      }
    },
    /** The planned line ([[lon, lat], ...]). */
    setLine(line, cls = "") {
      layers.line.replaceChildren();
      if (line && line.length > 1) {
        layers.line.append(h("svg:path", { d: pathOf(line, false), class: `gmap-route gmap-stroke ${cls}`, dataset: { px: 4 } }));
      }
      apply();
    },
    /** Checkpoints and other markers: [{lon, lat, label, cls, title, onClick}]. */
    setPoints(points) {
      layers.points.replaceChildren();
      for (const pt of points) {
        const g = pin(layers.points, pt.lon, pt.lat, `gmap-point ${pt.cls || ""}`, pt.title || "",
          h("svg:circle", { r: 11 }), pt.label ? h("svg:text", { "text-anchor": "middle", dy: "0.35em" }, pt.label) : null);
        if (pt.dataset) Object.assign(g.dataset, pt.dataset);
        if (pt.onClick) g.addEventListener("click", (e) => { e.stopPropagation(); pt.onClick(); });
      }
      apply();
    },
    /** Where the phone is, with its accuracy circle (metres). */
    setMe(lon, lat, accuracy) {
      layers.me.replaceChildren();
      if (lon === null || lon === undefined) return;
      const [x, y] = project(lon, lat);
      if (accuracy) layers.me.append(h("svg:circle", { cx: x, cy: y, r: accuracy, class: "gmap-accuracy" }));
      pin(layers.me, lon, lat, "gmap-me", t("You are here"), h("svg:circle", { r: 7 }));
      apply();
    },
    /** Blind spots (GeoJSON Polygon / MultiPolygon), drawn hatched. */
    setBlind(geometry) {
      layers.blind.replaceChildren();
      const d = rings(geometry).map((r) => pathOf(r, true)).join("");
      if (d) layers.blind.append(h("svg:path", { d, class: "gmap-blind", "fill-rule": "evenodd" }, h("svg:title", {}, t("Blind spot"))));
    },
  };
}
