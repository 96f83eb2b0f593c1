// The map of the grid pages, on Leaflet 1.9.4 with the base layer, CRS and controls every map of ours
// shares (../basemap.js: the node's offline MBTiles file by default, so it works with no internet; the
// phone's service worker keeps the tiles it has seen; or Tianditu, any XYZ/WMTS URL, Baidu). Over it the
// county's own GeoJSON (/regions/map: village and grid boundaries, settlements, exits), a route's
// planned line, numbered checkpoints (done ones filled), the phone's position and accuracy, blind-spot
// polygons. A click on the map gives [lon, lat] (the route editor).

import { createLeafletMap, escapeText, fovRing } from "../basemap.js";
import { t } from "../i18n.js";

const L = window.L;
const BRAND = "#0f6fd1";

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
  const { map, fit: fitBounds } = createLeafletMap(host, { controls: "topleft" });
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
  // a click while the drawing tool is on belongs to the tool, not to click-to-add
  if (onClick) {
    map.on("click", (e) => {
      if (map.pm && map.pm.globalDrawModeEnabled()) return;
      onClick([e.latlng.lng, e.latlng.lat], e.originalEvent);
    });
  }
  let editing = null; // { onLine } once the route editor's drawing tools are on

  /** Fits the view to [[lon, lat], ...]; also the "show everything" view. */
  function fit(points) {
    if (!points || !points.length) return;
    fitBounds(L.latLngBounds(points.map(([lon, lat]) => [lat, lon])).pad(0.08));
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
        L.polygon(fovRing(cam), { color: "#1971c2", weight: 1, fillOpacity: 0.18, interactive: false })
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
