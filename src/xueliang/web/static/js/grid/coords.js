// WGS 84 ⇄ GCJ-02 ⇄ BD-09, and Baidu's own plane (BD09MC metres) and tile numbering: the same arithmetic
// as src/xueliang/grid/coords.py and grid/bd09mc.py (tested against the same published reference
// points). A Leaflet CRS lines our WGS 84 data up with a base layer drawn in GCJ-02 (AMap, Tencent) or
// BD-09 coordinates on the web-Mercator tile grid, or with Baidu's own tiles ("bd09mc"): every position
// is shifted into the tiles' datum (and plane) before it is drawn, and back when a pixel is read (a
// click on the map still gives WGS 84). Our data is never converted: only where it is drawn.

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

// Baidu's plane: per latitude band, easting = c0 + c1·|lon|, northing = c2 + c3·t + … + c8·t⁶ with
// t = |lat| / c9 (signs restored); the inverse is a second published set, banded by |northing|.
const LAT_BANDS = [75, 60, 45, 30, 15, 0];
const NORTHING_BANDS = [12890594.86, 8362377.87, 5591021, 3481989.83, 1678043.12, 0];
const TO_METRES = [
  [-0.0015702102444, 111320.7020616939, 1704480524535203, -10338987376042340, 26112667856603880,
    -35149669176653700, 26595700718403920, -10725012454188240, 1800819912950474, 82.5],
  [0.0008277824516172526, 111320.7020463578, 647795574.6671607, -4082003173.641316, 10774905663.51142,
    -15171875531.51559, 12053065338.62167, -5124939663.577472, 913311935.9512032, 67.5],
  [0.00337398766765, 111320.7020202162, 4481351.045890365, -23393751.19931662, 79682215.47186455,
    -115964993.2797253, 97236711.15602145, -43661946.33752821, 8477230.501135234, 52.5],
  [0.00220636496208, 111320.7020209128, 51751.86112841131, 3796837.749470245, 992013.7397791013,
    -1221952.21711287, 1340652.697009075, -620943.6990984312, 144416.9293806241, 37.5],
  [-0.0003441963504368392, 111320.7020576856, 278.2353980772752, 2485758.690035394, 6070.750963243378,
    54821.18345352118, 9540.606633304236, -2710.55326746645, 1405.483844121726, 22.5],
  [-0.0003218135878613132, 111320.7020701615, 0.00369383431289, 823725.6402795718, 0.46104986909093,
    2351.343141331292, 1.58060784298199, 8.77738589078284, 0.37238884252424, 7.45],
];
const TO_DEGREES = [
  [1.410526172116255e-8, 0.00000898305509648872, -1.9939833816331, 200.9824383106796, -187.2403703815547,
    91.6087516669843, -23.38765649603339, 2.57121317296198, -0.03801003308653, 17337981.2],
  [-7.435856389565537e-9, 0.000008983055097726239, -0.78625201886289, 96.32687599759846, -1.85204757529826,
    -59.36935905485877, 47.40033549296737, -16.50741931063887, 2.28786674699375, 10260144.86],
  [-3.030883460898826e-8, 0.00000898305509983578, 0.30071316287616, 59.74293618442277, 7.357984074871,
    -25.38371002664745, 13.45380521110908, -3.29883767235584, 0.32710905363475, 6856817.37],
  [-1.981981304930552e-8, 0.000008983055099779535, 0.03278182852591, 40.31678527705744, 0.65659298677277,
    -4.44255534477492, 0.85341911805263, 0.12923347998204, -0.04625736007561, 4482777.06],
  [3.09191371068437e-9, 0.000008983055096812155, 0.00006995724062, 23.10934304144901, -0.00023663490511,
    -0.6321817810242, -0.00663494467273, 0.03430082397953, -0.00466043876332, 2555164.4],
  [2.890871144776878e-9, 0.000008983055095805407, -3.068298e-8, 7.47137025468032, -0.00000353937994,
    -0.02145144861037, -0.00001234426596, 0.00010322952773, -0.00000323890364, 826088.5],
];

function bands(c, x, y) {
  const east = c[0] + c[1] * Math.abs(x);
  const t = Math.abs(y) / c[9];
  let north = 0;
  for (let k = 8; k >= 2; k -= 1) north = north * t + c[k];
  return [x < 0 ? -east : east, y < 0 ? -north : north];
}

/** BD-09 degrees → BD09MC metres (south of the equator Baidu uses the equator band, as we do). */
export function bd09ToMetres(lon, lat) {
  const wrapped = ((((lon + 180) % 360) + 360) % 360) - 180;
  const clamped = Math.max(-74, Math.min(74, lat));
  let band = LAT_BANDS.findIndex((edge) => clamped >= edge);
  if (band < 0) band = LAT_BANDS.length - 1;
  return bands(TO_METRES[band], wrapped, clamped);
}

export function metresToBd09(x, y) {
  return bands(TO_DEGREES[NORTHING_BANDS.findIndex((edge) => Math.abs(y) >= edge)], x, y);
}

/** Baidu's tile (x, y) at zoom z over a point in metres: 256 px, 2^(18-z) m a pixel, y north. */
export function baiduTile(x, y, z) {
  const scale = 2 ** (z - 18) / 256;
  return [Math.floor(x * scale), Math.floor(y * scale)];
}

/** Leaflet's EPSG:3857 for "wgs84"; for "gcj02"/"bd09" the same tile grid with the datum shift; for
 * "bd09mc" Baidu's plane: pixel = metres · 2^(z-18), y flipped (Leaflet's rows run south). */
export function crsFor(L, crs) {
  if (crs === "bd09mc") {
    const projection = {
      bounds: L.bounds([-20037726.37, -11708041.66], [20037726.37, 12474104.17]), // ±180°, -74°…74°
      project(latlng) {
        const [x, y] = bd09ToMetres(...wgs84ToBd09(latlng.lng, latlng.lat));
        return L.point(x, y);
      },
      unproject(point) {
        const [lon, lat] = bd09ToWgs84(...metresToBd09(point.x, point.y));
        return L.latLng(lat, lon);
      },
    };
    return L.extend({}, L.CRS.Earth, {
      code: "BD09MC", projection, transformation: new L.Transformation(1, 0, -1, 0), wrapLng: null,
      scale: (zoom) => 2 ** (zoom - 18),
      zoom: (scale) => Math.log2(scale) + 18,
    });
  }
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

/** A tile layer for Baidu's numbering on the "bd09mc" CRS: Leaflet's row r (counted south) is Baidu's
 * row -r-1 (counted north from the equator); the column is the same. */
export function baiduTileLayer(L) {
  return L.TileLayer.extend({
    getTileUrl(coords) {
      const data = { r: "", s: this._getSubdomain(coords), x: coords.x, y: -coords.y - 1, z: this._getZoomForUrl() };
      return L.Util.template(this._url, L.extend(data, this.options));
    },
  });
}
