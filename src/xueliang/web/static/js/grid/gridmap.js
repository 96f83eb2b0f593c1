// The map of the grid pages, on Leaflet 1.9.4 (static/vendor/leaflet, loaded as a classic script that
// defines window.L). The base layer comes from the node's tile source (/grid/basemap): by default the
// node's own offline MBTiles file (drawn from the county's data, so it works with no internet; the
// phone's service worker keeps the tiles it has seen), or Tianditu, or any XYZ/WMTS URL. Over it the
// county's own GeoJSON (/regions/map: village and grid boundaries, settlements, exits), a route's
// planned line, numbered checkpoints (done ones filled), the phone's position and accuracy, blind-spot
// polygons. A click on the map gives [lon, lat] (the route editor). Our data is WGS 84 throughout; for a
// GCJ-02 or BD-09 source the map's CRS shifts where it is drawn (coords.js, loaded only then).

import { api } from "../api.js";
import { t } from "../i18n.js";

const L = window.L;
const BRAND = "#0f6fd1";

function escapeText(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** Puts the node's base layer under the map; with none (or offline and never fetched) the county's
 * own boundaries still show on the page's background. */
async function loadBasemap(map, host) {
  let cfg = null;
  try {
    cfg = await api("/grid/basemap", { quiet: true });
  } catch {
    cfg = null;
  }
  host.dataset.basemap = (cfg && cfg.source) || "none";
  if (!cfg || !cfg.layers || !cfg.layers.length) return;
  if (cfg.crs && cfg.crs !== "wgs84") {
    const { crsFor } = await import("./coords.js");
    const center = map.getCenter();
    const zoom = map.getZoom();
    map.options.crs = crsFor(L, cfg.crs);
    map.setView(center, zoom, { reset: true });
  }
  host.dataset.crs = cfg.crs || "wgs84";
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
    L.tileLayer(layer.url, options).addTo(map).bringToBack();
  }
}

// Leaflet-Geoman (static/vendor/leaflet-geoman), loaded with the route editor only.
let geoman = null;
function loadGeoman() {
  if (L.PM) return Promise.resolve();
  if (!geoman) {
    geoman = new Promise((resolve, reject) => {
      const css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = "/static/vendor/leaflet-geoman/leaflet-geoman.css";
      document.head.append(css);
      const script = document.createElement("script");
      script.src = "/static/vendor/leaflet-geoman/leaflet-geoman.min.js";
      script.onload = () => resolve();
      script.onerror = () => { geoman = null; reject(new Error("leaflet-geoman")); };
      document.head.append(script);
    });
  }
  return geoman;
}

export function createGridMap(host, { onClick, onPlaceClick } = {}) {
  host.classList.add("gmap");
  const map = L.map(host, { boxZoom: false, zoomSnap: 0.25, attributionControl: true, maxZoom: 19, minZoom: 8 });
  map.attributionControl.setPrefix("Leaflet");
  map.attributionControl.addAttribution(t("County base map"));
  map.setView([31.7, 103.84], 13);
  const layers = {
    regions: L.layerGroup().addTo(map),
    blind: L.layerGroup().addTo(map),
    cameras: L.layerGroup().addTo(map),
    places: L.layerGroup().addTo(map),
    routes: L.layerGroup().addTo(map),
    line: L.layerGroup().addTo(map),
    points: L.layerGroup().addTo(map),
    me: L.layerGroup().addTo(map),
  };
  let home = null;

  // "Show everything": back to the last fitted view.
  const Fit = L.Control.extend({
    options: { position: "topleft" },
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
  // a click while the drawing tool is on belongs to the tool, not to click-to-add
  if (onClick) {
    map.on("click", (e) => {
      if (map.pm && map.pm.globalDrawModeEnabled()) return;
      onClick([e.latlng.lng, e.latlng.lat], e.originalEvent);
    });
  }
  let editing = null; // { onLine } once the route editor's drawing tools are on
  new ResizeObserver(() => map.invalidateSize()).observe(host);
  loadBasemap(map, host).catch(() => { host.dataset.basemap = "none"; }); // our boundaries still show

  /** Fits the view to [[lon, lat], ...]; also the "show everything" view. */
  function fit(points) {
    if (!points || !points.length) return;
    map.invalidateSize();
    home = L.latLngBounds(points.map(([lon, lat]) => [lat, lon])).pad(0.08);
    map.fitBounds(home);
  }

  return {
    map,
    fit,
    /** The base layer: village (and grid) boundaries and places (settlements, exits) from /regions/map. */
    setRegions(geojson) {
      layers.regions.clearLayers();
      layers.places.clearLayers();
      const features = (geojson && geojson.features) || [];
      L.geoJSON({ type: "FeatureCollection", features: features.filter((f) => f.properties.kind === "region") }, {
        style: (f) => (f.properties.level === "grid"
          ? { color: "#8fae94", weight: 1, dashArray: "4 3", fill: false, interactive: false }
          : { color: "#6b8f71", weight: f.properties.level === "village" ? 2 : 1.5, fillColor: "#2b8a3e",
            fillOpacity: f.properties.level === "village" ? 0.07 : 0.03, interactive: false }),
      }).addTo(layers.regions);
      for (const f of features) {
        if (!f.geometry || f.geometry.type !== "Point" || f.properties.kind === "region") continue;
        const [lon, lat] = f.geometry.coordinates;
        const exit = f.properties.kind === "exit";
        const marker = L.circleMarker([lat, lon], { radius: exit ? 5 : 6, color: exit ? "#7048e8" : "#2b8a3e", weight: 1,
          fillOpacity: 0.9, bubblingMouseEvents: !onPlaceClick })
          .bindTooltip(escapeText(`${f.properties.name} · ${exit ? t("Village exit") : t("Settlement")}`))
          .addTo(layers.places);
        if (onPlaceClick) marker.on("click", () => onPlaceClick(f.properties, lon, lat));
      }
    },
    /** The planned line ([[lon, lat], ...]); `cls` "draft" for a line being drawn. With the editing
     * tools on (`enableEditing`), the line's vertices can be dragged, added (drag a midpoint) and
     * removed (right-click), each change reported as the whole new line. */
    setLine(line, cls = "") {
      layers.line.clearLayers();
      if (line && line.length > 1) {
        const poly = L.polyline(line.map(([lon, lat]) => [lat, lon]), { color: cls === "draft" ? "#d9480f" : BRAND, weight: 4,
          opacity: 0.85, dashArray: cls === "draft" ? "8 6" : null, className: `gmap-route ${cls}`, interactive: Boolean(editing),
          pmIgnore: !editing })
          .addTo(layers.line);
        if (editing && poly.pm) {
          poly.pm.enable({ allowSelfIntersection: true, snappable: false, draggable: false });
          poly.on("pm:edit", () => {
            const pts = poly.getLatLngs().map((ll) => [ll.lng, ll.lat]);
            setTimeout(() => editing.onLine(pts), 0); // redrawn after Geoman has finished with it
          });
        }
      }
    },
    /** The route editor's tools: Geoman's polyline tool draws a whole new line (it replaces the
     * draft's), and the draft line becomes editable. Clicking the map still adds points. */
    async enableEditing({ onLine }) {
      await loadGeoman();
      if (!map.pm) map.pm = new L.PM.Map(map);
      map.pm.setLang((document.documentElement.lang || "zh").toLowerCase().startsWith("en") ? "en" : "zh");
      map.pm.addControls({ position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolygon: false,
        drawRectangle: false, drawCircle: false, drawText: false, cutPolygon: false, rotateMode: false,
        dragMode: false, editMode: false, removalMode: false, drawPolyline: true });
      map.pm.setGlobalOptions({ snappable: false, allowSelfIntersection: true });
      map.on("pm:create", (e) => {
        const pts = e.layer.getLatLngs().map((ll) => [ll.lng, ll.lat]);
        map.removeLayer(e.layer);
        onLine(pts);
      });
      editing = { onLine };
      host.dataset.editing = "1";
    },
    /** Other routes for context, thin and grey ([[[lon, lat], ...], ...]). */
    setRoutes(lines) {
      layers.routes.clearLayers();
      for (const line of lines) {
        if (line.length > 1) {
          L.polyline(line.map(([lon, lat]) => [lat, lon]), { color: "#5f6b7a", weight: 2, opacity: 0.6, interactive: false })
            .addTo(layers.routes);
        }
      }
    },
    /** Checkpoints and other markers: [{lon, lat, label, cls, title, dataset, onClick, onMove}];
     * with `onMove` the marker can be dragged and reports its new [lon, lat]. */
    setPoints(points) {
      layers.points.clearLayers();
      for (const pt of points) {
        const icon = L.divIcon({ className: `gmap-point ${pt.cls || ""}`, iconSize: [26, 26],
          html: `<span>${escapeText(pt.label || "")}</span>` });
        const marker = L.marker([pt.lat, pt.lon], { icon, title: pt.title || "", keyboard: Boolean(pt.onClick),
          draggable: Boolean(pt.onMove), pmIgnore: true });
        if (pt.onClick) marker.on("click", () => pt.onClick());
        if (pt.onMove) marker.on("dragend", () => { const ll = marker.getLatLng(); pt.onMove([ll.lng, ll.lat]); });
        marker.addTo(layers.points);
        const el = marker.getElement();
        if (el && pt.dataset) Object.assign(el.dataset, pt.dataset);
      }
    },
    /** Where the phone is, with its accuracy circle (metres). */
    setMe(lon, lat, accuracy) {
      layers.me.clearLayers();
      if (lon === null || lon === undefined) return;
      if (accuracy) L.circle([lat, lon], { radius: accuracy, color: "#1c7ed6", weight: 1, fillOpacity: 0.12, interactive: false }).addTo(layers.me);
      L.circleMarker([lat, lon], { radius: 7, color: "#fff", weight: 3, fillColor: "#1c7ed6", fillOpacity: 1 })
        .bindTooltip(escapeText(t("You are here"))).addTo(layers.me);
    },
    /** Cameras and their fields of view (wedges to scale, metres), as on the console's camera map. */
    setCameras(cameras) {
      layers.cameras.clearLayers();
      for (const cam of cameras) {
        if (cam.lat === null || cam.lat === undefined) continue;
        const kx = 111320 * Math.cos((cam.lat * Math.PI) / 180);
        const fov = Math.min(cam.fov_angle || 360, 360);
        const ring = [[cam.lat, cam.lon]];
        const steps = Math.max(6, Math.round(fov / 6));
        for (let i = 0; i <= steps; i += 1) {
          const a = ((cam.heading - fov / 2 + (fov * i) / steps) * Math.PI) / 180;
          ring.push([cam.lat + (cam.fov_range * Math.cos(a)) / 110574, cam.lon + (cam.fov_range * Math.sin(a)) / kx]);
        }
        L.polygon(fov >= 360 ? ring.slice(1) : ring, { color: "#1971c2", weight: 1, fillOpacity: 0.18, interactive: false })
          .addTo(layers.cameras);
        L.circleMarker([cam.lat, cam.lon], { radius: 4, color: "#fff", weight: 1.5, fillColor: "#1971c2", fillOpacity: 1 })
          .bindTooltip(escapeText(cam.name)).addTo(layers.cameras);
      }
    },
    /** Blind spots (GeoJSON Polygon / MultiPolygon), drawn in red. */
    setBlind(geometry) {
      layers.blind.clearLayers();
      if (geometry) {
        L.geoJSON(geometry, { style: { color: "#c92a2a", weight: 1, fillColor: "#c92a2a", fillOpacity: 0.25 } })
          .bindTooltip(escapeText(t("Blind spot"))).addTo(layers.blind);
      }
    },
  };
}
