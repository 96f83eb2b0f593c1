// Produce prices: the day's prices per market with the change since the previous day, the top risers
// and fallers, a 30-day chart (inline SVG, no library), and the caller's subscriptions with thresholds
// (a notice on the TV banner and here when a new price is published or moves past the threshold).

import { api, toast } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { changeText, chip, fill, formatDay, heading, item, list, money, name } from "./common.js";

let markets = null;
const everyMarket = () => t("every market");

function moverList(title, rows) {
  return h("div", { class: "p-movers-col" }, h("h3", {}, title), h("ul", { class: "p-list p-compact" }, rows.map((r) => {
    const ch = changeText(r);
    return item(`${name(r, "product")} · ${name(r, "market")}`, "", {
      href: `#price/${r.product_id}/${r.market_id}`, right: h("span", { class: ch.cls }, `${r.change_pct > 0 ? "+" : ""}${Number(r.change_pct || 0).toFixed(1)}%`),
    });
  })));
}

function subText(s) {
  const parts = [];
  if (s.threshold_percent !== null && s.threshold_percent !== undefined) parts.push(t("moves {pct}% or more", { pct: s.threshold_percent }));
  if (s.price_above !== null && s.price_above !== undefined) parts.push(t("above {price}", { price: money(s.price_above) }));
  if (s.price_below !== null && s.price_below !== undefined) parts.push(t("below {price}", { price: money(s.price_below) }));
  return parts.length ? parts.join(" · ") : t("every new price");
}

export async function prices(root, [marketId = ""], state) {
  if (!markets) markets = await api("/portal/prices/markets");
  const market = marketId || (markets[0] ? String(markets[0].id) : "");
  const [out, movers, subs, alerts] = await Promise.all([
    api("/portal/prices", { query: { market_id: market } }),
    api("/portal/prices/movers", { query: { limit: 5 } }),
    api("/portal/subscriptions"),
    api("/portal/price-alerts", { query: { unread: true, limit: 20 } }),
  ]);
  if (!state.current()) return;
  const table = h("table", { class: "p-table" },
    h("thead", {}, h("tr", {}, h("th", {}, t("Product")), h("th", { class: "num" }, t("Price")), h("th", { class: "num" }, t("Change")))),
    h("tbody", {}, out.items.map((r) => {
      const ch = changeText(r);
      return h("tr", {},
        h("td", {}, h("a", { href: `#price/${r.product_id}/${r.market_id}`, "data-product-id": r.product_id }, name(r, "product"))),
        h("td", { class: "num" }, `${money(r.price)} ${t("yuan")}/${r.unit}`),
        h("td", { class: `num ${ch.cls}` }, ch.text));
    })));
  fill(root, 
    heading(t("Produce prices"), out.day ? t("Prices of {day}", { day: formatDay(out.day) }) : ""),
    alerts.items.length ? h("div", { class: "p-alerts", role: "status" }, h("h3", {}, t("Price notices")),
      h("ul", { class: "p-list p-compact" }, alerts.items.map((a) => item(name(a, "message"), formatDay(a.day), {
        onclick: async (e) => {
          await api(`/portal/price-alerts/${a.id}/read`, { method: "POST" });
          e.currentTarget.closest("li").remove();
          state.refreshBanner();
        }, right: t("Mark read"),
      })))) : null,
    h("div", { class: "p-chips", role: "group", "aria-label": t("Market") }, markets.map((m) =>
      chip(name(m), String(m.id) === market, () => { location.hash = `#prices/${m.id}`; }, { "data-market": m.id }))),
    h("div", { class: "p-grid2" },
      h("section", { class: "p-card" }, out.items.length ? table : h("p", { class: "empty" }, t("No prices yet."))),
      h("section", { class: "p-card p-movers" }, h("h2", { class: "p-h2" }, t("Biggest moves")),
        moverList(t("Risers"), movers.risers), moverList(t("Fallers"), movers.fallers),
        h("h2", { class: "p-h2" }, t("My subscriptions")),
        list(subs.map((s) => item(`${name(s, "product")} · ${s.market ? s.market : everyMarket()}`, subText(s),
          { href: `#price/${s.product_id}/${s.market_id || market}`, attrs: { "data-sub-product": s.product_id } })),
        t("Open a product to subscribe to its price.")))));
}

/** The 30-day line of one market: price axis from the lowest to the highest price, days along the bottom. */
export function chart(points, label, width = 640) {
  // The viewBox is the drawn size in CSS pixels, so the labels keep their size on a phone and a PC.
  const W = Math.round(Math.min(900, Math.max(280, width))); const H = W < 500 ? 200 : 260;
  const L = 48; const R = 12; const T = 14; const B = 30;
  const svg = h("svg:svg", { class: "p-chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
  if (points.length < 2) {
    svg.append(h("svg:text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, t("Not enough days for a chart yet.")));
    return svg;
  }
  const vals = points.map((p) => p.price);
  let lo = Math.min(...vals); let hi = Math.max(...vals);
  if (hi === lo) { hi += 1; lo = Math.max(0, lo - 1); }
  const x = (i) => L + (i * (W - L - R)) / (points.length - 1);
  const y = (v) => T + ((hi - v) * (H - T - B)) / (hi - lo);
  for (const v of [lo, (lo + hi) / 2, hi]) {
    svg.append(h("svg:line", { class: "p-chart-grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      h("svg:text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, money(v)));
  }
  const d = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)} ${y(p.price).toFixed(1)}`).join(" ");
  svg.append(h("svg:path", { class: "p-chart-line", d }));
  const last = points[points.length - 1];
  svg.append(h("svg:circle", { class: "p-chart-dot", cx: x(points.length - 1), cy: y(last.price), r: 4 }));
  svg.append(h("svg:text", { x: L, y: H - 10 }, formatDay(points[0].day)),
    h("svg:text", { x: W - R, y: H - 10, "text-anchor": "end" }, formatDay(last.day)));
  return svg;
}

export async function price(root, [productId, marketId], state) {
  if (!markets) markets = await api("/portal/prices/markets");
  const [series, subs] = await Promise.all([
    api("/portal/prices/series", { query: { product_id: productId, market_id: marketId, days: 30 } }),
    api("/portal/subscriptions"),
  ]);
  if (!state.current()) return;
  const line = series.series[0] || { points: [], market: "" };
  const market = markets.find((m) => String(m.id) === String(marketId));
  const mine = subs.find((s) => String(s.product_id) === String(productId)
    && (s.market_id === null || String(s.market_id) === String(marketId)));
  const pct = h("input", { type: "number", class: "field", id: "p-sub-pct", min: "0", max: "1000", step: "0.1", inputmode: "decimal" });
  const above = h("input", { type: "number", class: "field", id: "p-sub-above", min: "0", step: "0.01", inputmode: "decimal" });
  const below = h("input", { type: "number", class: "field", id: "p-sub-below", min: "0", step: "0.01", inputmode: "decimal" });
  const num = (el) => (el.value === "" ? undefined : Number(el.value));
  const form = h("form", { class: "p-card p-sub-form", id: "p-sub-form" },
    h("h2", { class: "p-h2" }, t("Subscribe to this price")),
    h("p", { class: "muted" }, t("You get a notice on the TV and here when a new price is published, or only when it moves past what you set below.")),
    h("label", { class: "lbl", for: "p-sub-pct" }, t("Notify when it moves by at least (%)")), pct,
    h("div", { class: "p-grid2 p-tight" },
      h("div", {}, h("label", { class: "lbl", for: "p-sub-above" }, t("or rises above (yuan)")), above),
      h("div", {}, h("label", { class: "lbl", for: "p-sub-below" }, t("or falls below (yuan)")), below)),
    h("button", { type: "submit", class: "btn btn-primary p-wide", id: "p-sub-save" }, t("Subscribe")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    await api("/portal/subscriptions", { method: "POST", body: {
      product_id: Number(productId), market_id: Number(marketId),
      threshold_percent: num(pct), price_above: num(above), price_below: num(below),
    } });
    toast(t("Subscribed."), "ok");
    state.rerender();
  });
  const subscribed = mine ? h("div", { class: "p-card p-subscribed", id: "p-subscribed" },
    h("h2", { class: "p-h2" }, t("Subscribed")),
    h("p", {}, `${mine.market || everyMarket()} · ${subText(mine)}`),
    h("button", { type: "button", class: "btn btn-danger", id: "p-unsubscribe", onclick: async () => {
      await api(`/portal/subscriptions/${mine.id}`, { method: "DELETE" });
      toast(t("Subscription removed."), "ok");
      state.rerender();
    } }, t("Unsubscribe"))) : form;
  const lastPoint = line.points[line.points.length - 1];
  fill(root, 
    heading(`${series.product} · ${market ? name(market) : line.market}`,
      lastPoint ? `${money(lastPoint.price)} ${t("yuan")}/${series.unit} · ${formatDay(lastPoint.day)}` : ""),
    h("section", { class: "p-card" }, h("h2", { class: "p-h2" }, t("Price over 30 days")), chart(line.points, t("Price over 30 days"), root.clientWidth - 30)),
    subscribed);
}
