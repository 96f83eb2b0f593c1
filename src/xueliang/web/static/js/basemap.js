// What every Leaflet map of ours shares (the console's camera map, map.js, and the grid pages' maps,
// grid/gridmap.js), on Leaflet 1.9.4 (static/vendor/leaflet, a classic script that defines window.L):
// the base layer from the node's tile source (/grid/basemap: the node's own offline MBTiles file drawn
// from the county's data, Tianditu, any XYZ/WMTS URL, or Baidu's own tiles), the CRS that lines our
// WGS 84 data up with a GCJ-02, BD-09 or BD09MC source (grid/coords.js, loaded only then), the
// "show everything" button, and a camera's field-of-view wedge to scale. Our data stays WGS 84.

import { api } from "./api.js";
import { t } from "./i18n.js";

const L = window.L;

/** Puts the node's base layer under the map (bottom first); with none, or for a role that may not see
 * the tiles (they show households), the county's own boundaries still show on the page's background.
 * Sets host.dataset.basemap (the source) and host.dataset.crs once known. */
export async function loadBasemap(map, host) {
  let cfg = null;
  try {
    cfg = await api("/grid/basemap", { quiet: true });
  } catch {
    cfg = null;
  }
  host.dataset.basemap = (cfg && cfg.source) || "none";
  if (!cfg || !cfg.layers || !cfg.layers.length) return;
  const crs = cfg.crs || "wgs84";
  let tileLayer = L.TileLayer;
  if (crs !== "wgs84") {
    const coords = await import("./grid/coords.js");
    const center = map.getCenter();
    const zoom = map.getZoom();
    map.options.crs = coords.crsFor(L, crs);
    map.setView(center, zoom, { reset: true });
    if (crs === "bd09mc") tileLayer = coords.baiduTileLayer(L);
  }
  host.dataset.crs = crs;
  if (cfg.source === "offline") map.attributionControl.addAttribution(t("County base map"));
  for (const layer of cfg.layers) {
    const options = {
      attribution: layer.attribution || "",
      maxZoom: layer.max_zoom || 19,
      maxNativeZoom: layer.max_native_zoom || 18,
      minNativeZoom: layer.min_native_zoom || 0,
      subdomains: layer.subdomains || "abc",
      className: "gmap-tiles",
    };
    if (layer.bounds) {
      const [w, s, e, n] = layer.bounds;
      options.bounds = L.latLngBounds([[s, w], [n, e]]).pad(0.5);
    }
    new tileLayer(layer.url, options).addTo(map).bringToBack();
  }
}

/**
 * A Leaflet map on `host` with our defaults, the base layer (loaded in the background) and a "show
 * everything" button under the zoom buttons at `controls` ("topleft" or "topright"). Returns
 * { map, fit(bounds) }: `fit` shows a LatLngBounds and remembers it for the button.
 */
export function createLeafletMap(host, { controls = "topleft", minZoom = 8 } = {}) {
  const map = L.map(host, { boxZoom: false, zoomSnap: 0.25, zoomControl: false, attributionControl: true,
    maxZoom: 19, minZoom });
  map.attributionControl.setPrefix("Leaflet");
  map.setView([31.7, 103.84], 13);
  L.control.zoom({ position: controls, zoomInTitle: t("Zoom in"), zoomOutTitle: t("Zoom out") }).addTo(map);
  let home = null;
  const Fit = L.Control.extend({
    options: { position: controls },
    onAdd() {
      const a = L.DomUtil.create("a", "leaflet-bar-part gmap-fit");
      a.href = "#";
      a.title = t("Show everything");
      a.setAttribute("role", "button");
      a.setAttribute("aria-label", t("Show everything"));
      a.textContent = "⤢";
      const bar = L.DomUtil.create("div", "leaflet-bar");
      bar.append(a);
      L.DomEvent.on(a, "click", (e) => { L.DomEvent.preventDefault(e); L.DomEvent.stopPropagation(e); if (home) map.fitBounds(home); });
      L.DomEvent.disableClickPropagation(bar);
      return bar;
    },
  });
  map.addControl(new Fit());
  new ResizeObserver(() => map.invalidateSize()).observe(host);
  loadBasemap(map, host).catch(() => { host.dataset.basemap = "none"; }); // our boundaries still show

  function fit(bounds, { animate = true } = {}) {
    if (!bounds || !bounds.isValid()) return;
    map.invalidateSize();
    home = bounds;
    map.fitBounds(bounds, { animate });
  }
  return { map, fit, home: () => home };
}

/** A camera's field of view as a ring of [lat, lon] (apex first unless it sees all round): heading 0 =
 * north, clockwise; `fov_range` in metres, so the wedge is drawn to scale at every zoom. */
export function fovRing(cam) {
  const kx = 111320 * Math.cos((cam.lat * Math.PI) / 180);
  const fov = Math.min(cam.fov_angle || 360, 360);
  const ring = [];
  const steps = Math.max(6, Math.round(fov / 6));
  for (let i = 0; i <= steps; i += 1) {
    const a = ((cam.heading - fov / 2 + (fov * i) / steps) * Math.PI) / 180;
    ring.push([cam.lat + (cam.fov_range * Math.cos(a)) / 110574, cam.lon + (cam.fov_range * Math.sin(a)) / kx]);
  }
  return fov >= 360 ? ring.slice(0, -1) : [[cam.lat, cam.lon], ...ring];
}

export function escapeText(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
