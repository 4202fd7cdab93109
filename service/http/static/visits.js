// The visit board: who is out, where, and when they are due back.
"use strict";

(() => {
  const { el, api } = LW;
  const visits = new Map();
  const columns = [
    ["state", "State"], ["visitor", "Visitor"], ["address", "Address"],
    ["planned", "Planned"], ["due_back", "Due back"],
  ];
  const value = (v, key) => {
    if (key === "visitor") return v.staff_name || v.visitor || v.staff || "—";
    if (key === "planned") return v.planned_start ? LW.fmtDate(v.planned_start) : (v.planned || "—");
    if (key === "due_back") return v.due_back || v.planned_end ? LW.fmtClock(v.due_back || v.planned_end) : "—";
    return v[key] ?? "—";
  };
  function render() {
    const board = document.getElementById("board");
    if (!visits.size) {
      board.replaceChildren(el("div", { class: "empty" }, el("strong", {}, "No visits"), "Planned and live home visits will be shown here."));
      document.getElementById("summary").textContent = "No visits to show.";
      return;
    }
    const rows = [...visits.values()].map((v) => el("tr", {},
      columns.map(([key]) => el("td", {}, String(value(v, key)))),
      el("td", {}, el("a", { href: `/console/timeline?visit=${encodeURIComponent(v.id)}` }, "Timeline"))));
    board.replaceChildren(el("div", { class: "table-wrap" }, el("table", { class: "data" },
      el("thead", {}, el("tr", {}, columns.map(([, label]) => el("th", { scope: "col" }, label)), el("th", { scope: "col" }, "Record"))),
      el("tbody", {}, rows))));
    document.getElementById("summary").textContent = `${visits.size} visits. Updated live.`;
  }
  async function reload() {
    visits.clear();
    try {
      const body = await api("/api/v1/visits");
      for (const v of body.visits || []) visits.set(v.id, v);
    } catch (e) {
      if (e.status !== 404 && e.status !== 405) throw e; // the visit board is not switched on yet
    }
    render();
  }
  LW.start("visits").then(async () => {
    await reload();
    LW.live({ visit: (v) => { visits.set(v.id, v); render(); } }, reload);
  });
})();
