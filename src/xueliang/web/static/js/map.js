// The console's camera map, on Leaflet with the same base layer and CRS as the grid pages (basemap.js:
// the node's offline MBTiles file by default, Tianditu, any XYZ/WMTS URL, Baidu). Over it our own
// GeoJSON (/api/v1/regions/map, the caller's scope only): region outlines (villages clickable), village
// and township names, settlements and exits; each camera's field-of-view wedge to scale (metres) and its
// marker (a dot with the heading), both opening the camera; named overlays above (the open alarms,
// guard points); a legend and a scale bar. Data stays WGS 84; the CRS shifts only where it is drawn.

import { createLeafletMap, fovRing } from "./basemap.js";
import { h } from "./dom.js";
import { kindLabel, localName, t } from "./i18n.js";

const L = window.L;
const LEVEL_ORDER = ["province", "county", "township", "village", "grid"];
const NEAR = 15; // from this zoom on, settlement names show
const FAR = 12; // below it, the township's name shows and places fade

/** A square inline SVG, centred on 0,0 in its own pixels, holding `nodes` (drawn from -size/2). */
function svgIcon(size, nodes) {
  const half = size / 2;
  return h("svg:svg", { width: size, height: size, viewBox: `${-half} ${-half} ${size} ${size}`, class: "pin-svg",
    "aria-hidden": "true" }, ...nodes);
}

function activateOnKeys(el, fn) {
  el.setAttribute("tabindex", "0");
  el.setAttribute("role", "button");
  el.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); fn(); } });
}

/** Zoom at which `width` metres fill the map's width around (lat, lon), in whatever CRS the base layer
 * set (web Mercator, Baidu's plane); a hidden map (the wall tab) counts as 800 px wide. */
function zoomForWidth(map, lat, lon, width) {
  map.invalidateSize({ pan: false });
  const px = map.getSize().x || 800;
  const z = map.getZoom();
  const here = map.project([lat, lon], z);
  const metresPerPixel = map.distance(map.unproject(here, z), map.unproject(here.add([100, 0]), z)) / 100;
  return z + Math.log2((metresPerPixel * px) / width);
}

export function createMap(host, geojson, { onCameraClick, onRegionClick } = {}) {
  const features = (geojson && geojson.features) || [];
  const regionFeatures = features.filter((f) => f.properties.kind === "region" && f.geometry);
  const placeFeatures = features.filter((f) => f.geometry && f.geometry.type === "Point");

  host.classList.add("map-leaflet");
  const { map, fit } = createLeafletMap(host, { controls: "topright", minZoom: 6 });
  const pane = (name, z, cls) => {
    const el = map.createPane(name);
    el.style.zIndex = String(z);
    if (cls) el.classList.add(...cls.split(" "));
    return el;
  };
  pane("regions", 350, "map-regions");
  pane("fov", 420, "map-cameras");
  pane("labels", 450, "map-labels").style.pointerEvents = "none";
  pane("places", 560, "map-places");
  pane("cams", 620, "map-cameras");
  const regionRenderer = L.svg({ pane: "regions" });
  const fovRenderer = L.svg({ pane: "fov" });

  // Regions, coarse to fine so villages sit above their township.
  const villageLabels = []; // {marker, text, b}
  const regionLayers = new Map(); // id -> L.Polygon
  let all = null; // L.LatLngBounds of everything in scope (the home view)
  const grow = (b) => { if (b && b.isValid()) all = all ? all.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast()); };
  const sorted = [...regionFeatures].sort((a, b) => LEVEL_ORDER.indexOf(a.properties.level)
    - LEVEL_ORDER.indexOf(b.properties.level));
  for (const f of sorted) {
    const p = f.properties;
    const clickable = p.level === "village" || p.level === "grid";
    const layer = L.geoJSON(f, {
      renderer: regionRenderer, pane: "regions",
      style: () => ({ className: `region level-${p.level}${clickable ? " clickable" : ""}`, interactive: clickable }),
    });
    layer.eachLayer((poly) => {
      regionLayers.set(p.id, poly);
      poly.bindTooltip(h("span", {}, localName(p)), { sticky: true, className: "map-tip" });
      if (clickable && onRegionClick) poly.on("click", () => onRegionClick(p.id));
    });
    layer.addTo(map);
    for (const poly of layer.getLayers()) {
      const el = poly.getElement();
      if (el) el.dataset.regionId = p.id;
    }
    const b = layer.getBounds();
    grow(b);
    if (!b.isValid()) continue;
    if (p.level === "village") {
      // the name just outside the village's boundary, on the side clearest of markers (placeLabels)
      const text = h("span", {}, localName(p));
      const marker = L.marker([b.getNorth(), b.getCenter().lng], { pane: "labels", interactive: false, keyboard: false,
        icon: L.divIcon({ className: "map-label label-village side-top", iconSize: null, html: text }) }).addTo(map);
      villageLabels.push({ marker, text, b });
    } else if (p.level === "township") {
      L.marker(b.getCenter(), { pane: "labels", interactive: false, keyboard: false,
        icon: L.divIcon({ className: "map-label label-township", iconSize: null, html: h("span", {}, localName(p)) }) })
        .addTo(map);
    }
  }

  // Settlements and village exits.
  const placePoints = [];
  for (const f of placeFeatures) {
    const p = f.properties;
    if (p.kind !== "settlement" && p.kind !== "exit") continue;
    const [lon, lat] = f.geometry.coordinates;
    const settlement = p.kind === "settlement";
    const html = h("span", { class: "place-body" }, settlement
      ? svgIcon(14, [h("svg:rect", { x: -4, y: -4, width: 8, height: 8, rx: 2 })])
      : svgIcon(14, [h("svg:path", { d: "M0,-5L5,4L-5,4Z" })]),
    settlement ? h("span", { class: "place-label" }, localName(p)) : null);
    L.marker([lat, lon], { icon: L.divIcon({ className: `place place-${p.kind}`, iconSize: [14, 14], html }), pane: "places",
      keyboard: false, interactive: false, title: `${localName(p)} · ${settlement ? t("Settlement") : t("Village exit")}` })
      .addTo(map);
    grow(L.latLngBounds([[lat, lon], [lat, lon]]));
    placePoints.push([lat, lon]);
  }

  // Legend (top left) and scale (bottom left).
  const legendItem = (cls, label) => h("li", {}, h("span", { class: `legend-sym ${cls}` }), label);
  const Legend = L.Control.extend({
    options: { position: "topleft" },
    onAdd() {
      const ul = h("ul", { class: "map-legend" },
        legendItem("kind-key_place", kindLabel("key_place")),
        legendItem("kind-intersection", kindLabel("intersection")),
        legendItem("kind-settlement", kindLabel("settlement")),
        legendItem("legend-fov", t("Field of view")),
        legendItem("legend-settlement", t("Residential group")),
        legendItem("legend-exit", t("Village exit")));
      L.DomEvent.disableClickPropagation(ul);
      L.DomEvent.disableScrollPropagation(ul);
      return ul;
    },
  });
  map.addControl(new Legend());
  L.control.scale({ position: "bottomleft", imperial: false, maxWidth: 120 }).addTo(map);

  /** Puts each village name above, below, right or left of its boundary: the side with the fewest
   * camera markers and places under the name at this zoom. */
  function placeLabels() {
    if (!map.getSize().x) return;
    const pts = [...camMarkers.values()].map((m) => map.latLngToContainerPoint([m.cam.lat, m.cam.lon]))
      .concat(placePoints.map((ll) => map.latLngToContainerPoint(ll)));
    for (const label of villageLabels) {
      const { b } = label;
      const w = (label.text.offsetWidth || 40) + 8;
      const sides = [
        ["top", [b.getNorth(), b.getCenter().lng], (p) => [p.x - w / 2, p.y - 24, p.x + w / 2, p.y]],
        ["bottom", [b.getSouth(), b.getCenter().lng], (p) => [p.x - w / 2, p.y, p.x + w / 2, p.y + 24]],
        ["right", [b.getCenter().lat, b.getEast()], (p) => [p.x, p.y - 12, p.x + w + 8, p.y + 12]],
        ["left", [b.getCenter().lat, b.getWest()], (p) => [p.x - w - 8, p.y - 12, p.x, p.y + 12]],
      ];
      let best = sides[0];
      let fewest = Infinity;
      for (const side of sides) {
        const [x0, y0, x1, y1] = side[2](map.latLngToContainerPoint(side[1]));
        const hits = pts.filter((q) => q.x > x0 - 10 && q.x < x1 + 10 && q.y > y0 - 10 && q.y < y1 + 10).length;
        if (hits < fewest) { fewest = hits; best = side; }
      }
      label.marker.setLatLng(best[1]);
      const el = label.marker.getElement();
      for (const [name] of sides) el.classList.toggle(`side-${name}`, name === best[0]);
    }
  }

  const zoomClasses = () => {
    const z = map.getZoom();
    host.classList.toggle("zoom-near", z >= NEAR);
    host.classList.toggle("zoom-far", z < FAR);
  };
  map.on("zoomend", zoomClasses);
  map.on("zoomend", placeLabels);

  // Cameras: the wedge (metres, to scale) and the marker (pixels), both open the camera.
  const camLayer = L.layerGroup().addTo(map);
  const camMarkers = new Map(); // id -> {marker, wedge, cam}
  let selectedId = null;
  let firstCameras = true;

  function setCameras(cameras) {
    camLayer.clearLayers();
    camMarkers.clear();
    const placed = cameras.filter((cam) => cam.lat !== null && cam.lat !== undefined);
    if (firstCameras) {
      // The first set (the whole scope) also widens the home view, wedges included.
      firstCameras = false;
      for (const cam of placed) grow(L.latLngBounds(fovRing(cam).concat([[cam.lat, cam.lon]])));
      if (all) fit(all.pad(0.04), { animate: false });
    }
    for (const cam of placed) {
      const cls = `kind-${cam.kind}${cam.enabled ? "" : " off"}${cam.id === selectedId ? " selected" : ""}`;
      const open = () => { if (onCameraClick) onCameraClick(cam); };
      const wedge = L.polygon(fovRing(cam), { renderer: fovRenderer, pane: "fov", className: `cam-fov ${cls}` })
        .on("click", open).addTo(camLayer);
      wedge.getElement().dataset.cameraId = cam.id;
      const rad = (cam.heading * Math.PI) / 180;
      const icon = L.divIcon({ className: `cam-marker ${cls}`, iconSize: [30, 30], html: svgIcon(30, [
        h("svg:line", { class: "cam-dir", x1: 0, y1: 0, x2: (12 * Math.sin(rad)).toFixed(2), y2: (-12 * Math.cos(rad)).toFixed(2) }),
        h("svg:circle", { class: "cam-dot", r: 5 })]) });
      const marker = L.marker([cam.lat, cam.lon], { icon, pane: "cams", keyboard: false,
        title: `${localName(cam)} · ${kindLabel(cam.kind)}` }).on("click", open).addTo(camLayer);
      const el = marker.getElement();
      el.dataset.cameraId = cam.id;
      el.setAttribute("aria-label", localName(cam));
      activateOnKeys(el, open);
      // hovering either part lights up both
      const hover = (on) => { el.classList.toggle("hover", on); wedge.getElement().classList.toggle("hover", on); };
      for (const part of [wedge, marker]) { part.on("mouseover", () => hover(true)); part.on("mouseout", () => hover(false)); }
      camMarkers.set(cam.id, { marker, wedge, cam });
    }
    if (selectedId !== null) raise(selectedId);
    placeLabels();
  }

  function raise(id) {
    const m = camMarkers.get(id);
    if (!m) return;
    m.marker.setZIndexOffset(1000);
    m.wedge.bringToFront();
  }

  function focusPoint(lat, lon, width = 1200, { animate = true } = {}) {
    map.setView([lat, lon], Math.min(zoomForWidth(map, lat, lon, width), map.getMaxZoom()), { animate });
  }

  function select(id, { reveal = false } = {}) {
    selectedId = id;
    for (const [cid, m] of camMarkers) {
      m.marker.getElement()?.classList.toggle("selected", cid === id);
      m.marker.setZIndexOffset(0);
      m.wedge.getElement()?.classList.toggle("selected", cid === id);
    }
    const m = camMarkers.get(id);
    if (!m) return;
    raise(id);
    const view = map.getBounds().pad(-0.08);
    const close = zoomForWidth(map, m.cam.lat, m.cam.lon, 1600);
    if (reveal && (!view.contains([m.cam.lat, m.cam.lon]) || map.getZoom() < close - 2.6)) {
      map.setView([m.cam.lat, m.cam.lon], Math.max(map.getZoom(), close));
    }
  }

  /**
   * A named layer of markers above the cameras (e.g. "alarms", "guard"): each item is {lat, lon, cls,
   * title, nodes: [SVG elements centred on 0,0], dataset, onClick}. Replaces the layer's markers.
   */
  const overlays = new Map();
  function setOverlay(name, items) {
    if (!overlays.has(name)) {
      pane(`overlay-${name}`, 640 + overlays.size * 10, `overlay overlay-${name}`);
      overlays.set(name, L.layerGroup().addTo(map));
    }
    const group = overlays.get(name);
    group.clearLayers();
    for (const item of items) {
      const icon = L.divIcon({ className: `overlay-pin ${item.cls || ""}`, iconSize: [40, 40], html: svgIcon(40, item.nodes || []) });
      const marker = L.marker([item.lat, item.lon], { icon, pane: `overlay-${name}`, keyboard: false,
        interactive: Boolean(item.onClick), title: item.title || "" }).addTo(group);
      const el = marker.getElement();
      if (item.onClick) {
        marker.on("click", () => item.onClick());
        activateOnKeys(el, item.onClick);
      }
      if (item.dataset) Object.assign(el.dataset, item.dataset);
    }
  }

  /** Shows all of `points` ([{lat, lon}]), with a margin of about 150 m. */
  function fitPoints(points) {
    if (!points.length) return;
    const b = L.latLngBounds(points.map((p) => [p.lat, p.lon]));
    const lat = b.getCenter().lat;
    const dLat = 150 / 110574;
    const dLon = 150 / (111320 * Math.cos((lat * Math.PI) / 180));
    map.fitBounds(L.latLngBounds([[b.getSouth() - dLat, b.getWest() - dLon], [b.getNorth() + dLat, b.getEast() + dLon]]));
  }

  function highlightRegion(id) {
    for (const [rid, poly] of regionLayers) poly.getElement()?.classList.toggle("active", rid === id);
  }

  /** Zooms to a region's boundary; without one, to the given cameras. */
  function showRegion(id, cameras = []) {
    highlightRegion(id);
    const poly = regionLayers.get(id);
    let b = poly ? poly.getBounds() : null;
    if (!b) {
      const placed = cameras.filter((c) => c.lat !== null && c.lat !== undefined);
      if (placed.length) b = L.latLngBounds(placed.map((c) => [c.lat, c.lon])).pad(0.2);
    }
    if (b && b.isValid()) map.fitBounds(b.pad(0.06));
    else if (all) map.fitBounds(all);
  }

  // First view: everything in scope, once the element has a size.
  if (all) fit(all.pad(0.04), { animate: false });
  zoomClasses();

  return {
    map, setCameras, select, showRegion, highlightRegion, setOverlay, focusPoint, fitPoints,
    fitAll: () => { if (all) map.fitBounds(all.pad(0.04)); },
    markerCount: () => camMarkers.size,
  };
}
