// The map of the grid pages, on Leaflet 1.9.4 (static/vendor/leaflet, loaded as a classic script that
// defines window.L). No tiles: the base layer is drawn from the county's own GeoJSON (/regions/map:
// village and grid boundaries, settlements, exits), so it works offline on the phone and on a node with
// no internet. Over it: a route's planned line, numbered checkpoints (done ones filled), the phone's
// position and accuracy, blind-spot polygons. A click on the map gives [lon, lat] (the route editor).
// Our data is WGS 84 throughout; with no third-party tiles there is no GCJ-02 offset to undo.

import { t } from "../i18n.js";

const L = window.L;
const BRAND = "#0f6fd1";

function escapeText(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
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
  if (onClick) map.on("click", (e) => onClick([e.latlng.lng, e.latlng.lat], e.originalEvent));
  new ResizeObserver(() => map.invalidateSize()).observe(host);

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
    /** The planned line ([[lon, lat], ...]); `cls` "draft" for a line being drawn. */
    setLine(line, cls = "") {
      layers.line.clearLayers();
      if (line && line.length > 1) {
        L.polyline(line.map(([lon, lat]) => [lat, lon]), { color: cls === "draft" ? "#d9480f" : BRAND, weight: 4,
          opacity: 0.85, dashArray: cls === "draft" ? "8 6" : null, className: `gmap-route ${cls}`, interactive: false })
          .addTo(layers.line);
      }
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
    /** Checkpoints and other markers: [{lon, lat, label, cls, title, dataset, onClick}]. */
    setPoints(points) {
      layers.points.clearLayers();
      for (const pt of points) {
        const icon = L.divIcon({ className: `gmap-point ${pt.cls || ""}`, iconSize: [26, 26],
          html: `<span>${escapeText(pt.label || "")}</span>` });
        const marker = L.marker([pt.lat, pt.lon], { icon, title: pt.title || "", keyboard: Boolean(pt.onClick) });
        if (pt.onClick) marker.on("click", () => pt.onClick());
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
