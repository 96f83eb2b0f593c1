// The users section (county admins): the accounts in the caller's area, create, edit, disable / enable.

import { api, me, toast } from "../api.js";
import { $, h } from "../dom.js";
import { levelLabel, localName, roleLabel, t } from "../i18n.js";

// Which region level each role is bound to (mirrors accounts.service.ROLE_LEVELS on the server).
const ROLE_LEVELS = {
  admin: ["county", "province"], auditor: ["county", "province"], operator: ["township"],
  duty_officer: ["village"], volunteer: ["village"], resident: ["village"], grid_worker: ["village", "grid"],
  portal_editor: ["county"], hospital_staff: ["county"],
};
const USERNAME = /^[A-Za-z0-9._-]{1,64}$/;

export async function initUsers() {
  const body = $("#users-table tbody");
  let users; let regions;
  try {
    [users, regions] = await Promise.all([api("/users"), api("/regions")]);
  } catch {
    body.replaceChildren(h("tr", {}, h("td", { colspan: 6, class: "empty" }, t("Could not load the users."))));
    return;
  }
  const scoped = regions.filter((r) => r.in_scope);
  const depth = new Map();
  const byId = new Map(regions.map((r) => [r.id, r]));
  for (const r of scoped) {
    let d = 0;
    for (let p = byId.get(r.parent_id); p && p.in_scope; p = byId.get(p.parent_id)) d += 1;
    depth.set(r.id, d);
  }
  const regionName = (u) => {
    const r = byId.get(u.region_id);
    return r ? localName(r) : u.region_name;
  };

  function fillRegions(select, role, current) {
    const levels = ROLE_LEVELS[role] || [];
    const options = scoped.filter((r) => levels.includes(r.level));
    select.replaceChildren(...options.map((r) => h("option", { value: r.code, selected: r.code === current },
      `${"\u3000".repeat(Math.max(depth.get(r.id) - 1, 0))}${localName(r)} (${levelLabel(r.level)})`)));
    if (!options.length) select.append(h("option", { value: "" }, t("No region of the right level in your area")));
  }

  const q = $("#u-q");
  const roleFilter = $("#u-role");
  function render(highlight) {
    const text = q.value.trim().toLowerCase();
    const shown = users.filter((u) => (!roleFilter.value || u.role === roleFilter.value)
      && (!text || u.username.toLowerCase().includes(text) || u.display_name.toLowerCase().includes(text)));
    $("#u-count").textContent = t("{count} shown", { count: shown.length });
    body.replaceChildren(...(shown.length ? shown.map((u) => h("tr", {
      dataset: { userId: u.id, username: u.username }, class: u.id === highlight ? "flash" : null,
    },
    h("td", {}, h("code", {}, u.username)),
    h("td", {}, u.display_name),
    h("td", {}, roleLabel(u.role)),
    h("td", {}, regionName(u)),
    h("td", {}, u.disabled ? h("span", { class: "badge badge-danger" }, t("Disabled"))
      : h("span", { class: "badge badge-ok" }, t("Active"))),
    h("td", { class: "actions" },
      h("button", { type: "button", class: "btn btn-sm", onclick: () => edit(u) }, t("Edit")),
      h("button", { type: "button", class: `btn btn-sm${u.disabled ? "" : " btn-danger"}`, disabled: u.id === me.id,
        title: u.id === me.id ? t("You cannot disable your own account") : null,
        onclick: () => toggle(u) }, u.disabled ? t("Enable") : t("Disable")))))
      : [h("tr", {}, h("td", { colspan: 6, class: "empty" }, t("No users match.")))]));
  }
  q.addEventListener("input", () => render());
  roleFilter.addEventListener("change", () => render());

  function replace(updated) {
    users = users.map((u) => (u.id === updated.id ? updated : u));
    render(updated.id);
  }

  async function toggle(u) {
    try {
      const out = await api(`/users/${u.id}`, { method: "PATCH", body: { disabled: !u.disabled } });
      replace(out);
      toast(out.disabled ? t("{name} can no longer log in.", { name: out.username })
        : t("{name} can log in again.", { name: out.username }), "ok");
    } catch { /* shown */ }
  }

  // Create ---------------------------------------------------------------------------------------------
  const form = $("#user-create");
  const formError = form.querySelector(".form-error");
  const say = (box, text) => { box.textContent = text; box.hidden = !text; };
  form.role.addEventListener("change", () => fillRegions(form.region_code, form.role.value));
  fillRegions(form.region_code, form.role.value);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = { username: form.username.value.trim(), display_name: form.display_name.value.trim(),
      password: form.password.value, role: form.role.value, region_code: form.region_code.value };
    if (!USERNAME.test(data.username)) return say(formError, t("Username: 1–64 letters, digits, “.”, “-” or “_”."));
    if (data.password.length < 8) return say(formError, t("The password needs at least 8 characters."));
    if (!data.region_code) return say(formError, t("Choose a region."));
    say(formError, "");
    const submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    try {
      const out = await api("/users", { method: "POST", body: data, quiet: true });
      users = [...users, out].sort((a, b) => a.username.localeCompare(b.username));
      q.value = ""; roleFilter.value = "";
      render(out.id);
      form.reset();
      fillRegions(form.region_code, form.role.value);
      toast(t("User {name} created.", { name: out.username }), "ok");
      const row = body.querySelector(`tr[data-user-id="${out.id}"]`);
      if (row) row.scrollIntoView({ block: "center" });
    } catch (err) {
      say(formError, err.message);
    } finally {
      submit.disabled = false;
    }
  });

  // Edit -----------------------------------------------------------------------------------------------
  const dialog = $("#user-edit");
  const ef = $("#user-edit-form");
  const editError = ef.querySelector(".form-error");
  let editing = null;
  ef.role.addEventListener("change", () => fillRegions(ef.region_code, ef.role.value, editing && editing.region_code));
  ef.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  function edit(u) {
    editing = u;
    $("#ue-title").textContent = t("Edit {name}", { name: u.username });
    ef.display_name.value = u.display_name;
    ef.role.value = u.role;
    ef.password.value = "";
    fillRegions(ef.region_code, u.role, u.region_code);
    say(editError, "");
    dialog.showModal();
  }
  ef.addEventListener("submit", async (e) => {
    e.preventDefault();
    const patch = {};
    if (ef.display_name.value.trim() !== editing.display_name) patch.display_name = ef.display_name.value.trim();
    if (ef.role.value !== editing.role) patch.role = ef.role.value;
    if (ef.region_code.value && ef.region_code.value !== editing.region_code) patch.region_code = ef.region_code.value;
    if (ef.password.value) {
      if (ef.password.value.length < 8) return say(editError, t("The password needs at least 8 characters."));
      patch.password = ef.password.value;
    }
    if (!Object.keys(patch).length) { dialog.close(); return undefined; }
    try {
      const out = await api(`/users/${editing.id}`, { method: "PATCH", body: patch, quiet: true });
      replace(out);
      dialog.close();
      toast(t("Saved."), "ok");
    } catch (err) {
      say(editError, err.message);
    }
    return undefined;
  });

  render();
}
