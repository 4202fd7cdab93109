// Fleet health: when each device was last heard from, its battery and where it was.
"use strict";

(() => {
  const { el, api } = LW;
  const devices = new Map();
  const LOW_BATTERY = 20;
  const STALE_SECONDS = 180;

  function fill(percent) {
    const bar = el("span");
    bar.style.width = `${Math.max(0, Math.min(100, percent))}%`; // CSSOM, allowed by the CSP
    return bar;
  }
  function battery(d) {
    if (d.battery === undefined || d.battery === null) return "—";
    const low = d.battery < LOW_BATTERY;
    return el("span", { class: `battery${low ? " low" : ""}` },
      el("span", { class: "bar", "aria-hidden": "true" }, fill(d.battery)),
      `${d.battery}%${low ? " low" : ""}`);
  }
  function lastSeen(d) {
    if (!d.last_seen) return el("span", { class: "stale" }, "never");
    const stale = (Date.now() - new Date(d.last_seen).getTime()) / 1000 > STALE_SECONDS;
    return el("span", { class: stale ? "stale" : null, title: LW.fmtDate(d.last_seen) },
      el("span", { "data-since": d.last_seen }, LW.fmtAgo(d.last_seen)),
      d.last_kind ? ` (${d.last_kind})` : "");
  }
  function where(d) {
    const loc = d.location;
    if (!loc) return "—";
    return LW.place(loc);
  }
  function counts(d) {
    const entries = Object.entries(d.counts || {}).sort();
    return entries.length ? el("span", { class: "counts" }, entries.map(([k, v]) => `${k} ${v}`).join(" · ")) : "—";
  }
  function render() {
    const rows = [...devices.values()].sort((a, b) => a.id.localeCompare(b.id)).map((d) =>
      el("tr", { id: `device-${d.id}` },
        el("th", { scope: "row" }, d.id, el("div", { class: "counts" }, (d.kind || "").replace("_", " "))),
        el("td", {}, d.staff_name || d.staff || "—"),
        el("td", {}, lastSeen(d)),
        el("td", {}, battery(d)),
        el("td", {}, where(d)),
        el("td", {}, counts(d)),
        el("td", {}, el("a", { href: `/console/timeline?device=${encodeURIComponent(d.id)}` }, "Timeline"))));
    document.getElementById("devices").replaceChildren(...rows);
    const low = [...devices.values()].filter((d) => d.battery !== undefined && d.battery !== null && d.battery < LOW_BATTERY).length;
    document.getElementById("summary").textContent = `${devices.size} devices; ${low} with a low battery. Updated live.`;
  }
  async function reload() {
    const { devices: docs } = await api("/api/v1/devices");
    devices.clear();
    for (const d of docs) devices.set(d.id, d);
    render();
  }
  LW.start("devices").then(async () => {
    await reload();
    LW.live({ device: (d) => { devices.set(d.id, { ...devices.get(d.id), ...d }); render(); } }, reload);
  });
})();
