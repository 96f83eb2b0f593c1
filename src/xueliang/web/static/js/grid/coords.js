// WGS 84 ⇄ GCJ-02 ⇄ BD-09, the same arithmetic as src/xueliang/grid/coords.py (tested against the
// same published reference points), and a Leaflet CRS that lines our WGS 84 data up with a base
// layer drawn in GCJ-02 (AMap, Tencent) or BD-09 coordinates on the web-Mercator tile grid: every
// position is shifted into the tiles' datum before it is projected, and back when it is unprojected
// (a click on the map still gives WGS 84). Our data is never converted: only where it is drawn.

const A = 6378245.0;
const EE = 0.00669342162296594323;
const X_PI = (Math.PI * 3000.0) / 180.0;

export function outOfChina(lon, lat) {
  return !(lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271);
}

function delta(lon, lat) {
  const x = lon - 105.0;
  const y = lat - 35.0;
  const pi = Math.PI;
  const common = ((20.0 * Math.sin(6.0 * x * pi) + 20.0 * Math.sin(2.0 * x * pi)) * 2.0) / 3.0;
  let dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x)) + common;
  dLat += ((20.0 * Math.sin(y * pi) + 40.0 * Math.sin((y / 3.0) * pi)) * 2.0) / 3.0;
  dLat += ((160.0 * Math.sin((y / 12.0) * pi) + 320.0 * Math.sin((y * pi) / 30.0)) * 2.0) / 3.0;
  let dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x)) + common;
  dLon += ((20.0 * Math.sin(x * pi) + 40.0 * Math.sin((x / 3.0) * pi)) * 2.0) / 3.0;
  dLon += ((150.0 * Math.sin((x / 12.0) * pi) + 300.0 * Math.sin((x / 30.0) * pi)) * 2.0) / 3.0;
  const rad = (lat / 180.0) * pi;
  const magic = 1 - EE * Math.sin(rad) ** 2;
  const sqrtMagic = Math.sqrt(magic);
  dLat = (dLat * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * pi);
  dLon = (dLon * 180.0) / ((A / sqrtMagic) * Math.cos(rad) * pi);
  return [dLon, dLat];
}

export function wgs84ToGcj02(lon, lat) {
  if (outOfChina(lon, lat)) return [lon, lat];
  const [dLon, dLat] = delta(lon, lat);
  return [lon + dLon, lat + dLat];
}

export function gcj02ToWgs84(lon, lat) {
  if (outOfChina(lon, lat)) return [lon, lat];
  let wLon = lon;
  let wLat = lat;
  for (let i = 0; i < 30; i += 1) {
    const [gLon, gLat] = wgs84ToGcj02(wLon, wLat);
    const eLon = gLon - lon;
    const eLat = gLat - lat;
    wLon -= eLon;
    wLat -= eLat;
    if (Math.abs(eLon) < 1e-9 && Math.abs(eLat) < 1e-9) break;
  }
  return [wLon, wLat];
}

export function gcj02ToBd09(lon, lat) {
  const z = Math.sqrt(lon * lon + lat * lat) + 0.00002 * Math.sin(lat * X_PI);
  const theta = Math.atan2(lat, lon) + 0.000003 * Math.cos(lon * X_PI);
  return [z * Math.cos(theta) + 0.0065, z * Math.sin(theta) + 0.006];
}

export function bd09ToGcj02(lon, lat) {
  const x = lon - 0.0065;
  const y = lat - 0.006;
  const z = Math.sqrt(x * x + y * y) - 0.00002 * Math.sin(y * X_PI);
  const theta = Math.atan2(y, x) - 0.000003 * Math.cos(x * X_PI);
  return [z * Math.cos(theta), z * Math.sin(theta)];
}

export function wgs84ToBd09(lon, lat) {
  if (outOfChina(lon, lat)) return [lon, lat];
  return gcj02ToBd09(...wgs84ToGcj02(lon, lat));
}

export function bd09ToWgs84(lon, lat) {
  if (outOfChina(lon, lat)) return [lon, lat];
  return gcj02ToWgs84(...bd09ToGcj02(lon, lat));
}

const FORWARD = { gcj02: wgs84ToGcj02, bd09: wgs84ToBd09 };
const BACK = { gcj02: gcj02ToWgs84, bd09: bd09ToWgs84 };

/** Leaflet's EPSG:3857 for "wgs84"; for "gcj02"/"bd09" the same tile grid with the datum shift. */
export function crsFor(L, crs) {
  if (!FORWARD[crs]) return L.CRS.EPSG3857;
  const sm = L.Projection.SphericalMercator;
  const projection = {
    R: sm.R,
    MAX_LATITUDE: sm.MAX_LATITUDE,
    bounds: sm.bounds,
    project(latlng) {
      const [lon, lat] = FORWARD[crs](latlng.lng, latlng.lat);
      return sm.project(L.latLng(lat, lon));
    },
    unproject(point) {
      const ll = sm.unproject(point);
      const [lon, lat] = BACK[crs](ll.lng, ll.lat);
      return L.latLng(lat, lon);
    },
  };
  return L.extend({}, L.CRS.EPSG3857, { projection, code: `EPSG:3857+${crs}` });
}
