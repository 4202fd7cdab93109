// History: past alerts and visits searched by person, dates, kind, state and outcome.
// The filters live in the address (?what=alerts&staff=...), so a search can be reloaded,
// bookmarked or sent to a colleague; each row links to its full record (the timeline).
"use strict";

(() => {
  const { el, api } = LW;
  const PAGE = 50;
  const KIND = {
    sos: "SOS", concern: "Concern", fall: "Fall", duress: "Duress", overdue: "Overdue from a visit", device_offline: "Device offline",
    low_battery: "Low battery", notification_failed: "Notification failed", arc_unreachable: "Alarm centre unreachable",
  };
  const OUTCOME = {
    safe: "Safe", false_alarm: "False alarm", emergency_services_called: "Emergency services called", other: "Other",
    completed: "Completed", no_answer: "No answer", entry_refused: "Entry refused",
    left_early_for_safety: "Left early for safety",
  };
  const STEP = LW.OVERDUE_STEPS;
  const form = document.getElementById("filters");
  const words = (value, table) => (value ? table[value] || value.replace(/_/g, " ") : "—");

  // One child per cell: on a tablet each cell is a two-column grid (its label, its content).
  function cell(label, ...content) { return el("td", { "data-label": label }, el("div", {}, ...content)); }

  function showFor(what) {
    for (const node of form.querySelectorAll(".for-alerts, .for-visits")) {
      const mine = node.classList.contains(`for-${what}`);
      node.hidden = !mine;
      for (const input of node.querySelectorAll("input, select")) input.disabled = !mine;
    }
  }

  function fromAddress() {
    const query = new URLSearchParams(location.search);
    const what = query.get("what") === "visits" ? "visits" : "alerts";
    return { what, query };
  }
  // The form shows the address only when the page is opened or the person goes back or
  // forward: a search must never write the form, or a Clear's search (run a moment later)
  // wipes what the person typed since.
  function fillForm() {
    const { what, query } = fromAddress();
    form.elements.what.value = what;
    showFor(what);
    for (const name of ["staff", "from", "to", "kind"]) form.elements[name].value = query.get(name) || "";
    for (const node of form.querySelectorAll(`[data-for="${what}"]`)) node.value = query.get(node.name) || "";
    form.elements.overdue.checked = query.get("overdue") === "true";
  }

  function toAddress(offset = 0) {
    const query = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (value) query.set(name, value);
    if (offset) query.set("offset", String(offset));
    history.pushState(null, "", `?${query}`);
  }

  const HEADS = {
    alerts: ["Raised", "Alert", "Person", "Answered in", "Taken by", "How it ended", "Record"],
    visits: ["Day", "Visitor", "State", "Outcome", "Overdue ladder", "Record"],
  };

  function alertRow(a) {
    return el("tr", {},
      el("th", { scope: "row", "data-label": "Raised" }, LW.fmtStamp(a.raised_at)),
      cell("Alert", el("span", { class: `badge ${a.severity}` }, words(a.kind, KIND)), " ", el("span", { class: "counts" }, a.short_code)),
      cell("Person", a.staff_name || a.staff || "—", a.school_name ? el("div", { class: "counts" }, a.school_name) : null),
      cell("Answered in", a.answered_in_s == null ? "not taken" : `${a.answered_in_s} s`),
      cell("Taken by", LW.person(a.acknowledged_by, a), a.people_told ? el("div", { class: "counts" }, `${a.people_told} told`) : null),
      cell("How it ended", a.state === "resolved" ? words(a.outcome, OUTCOME) : el("strong", {}, "Still open"),
        a.note ? el("div", { class: "counts" }, a.note_words || a.note) : null),
      cell("Record", el("a", { href: `/console/timeline?alert=${encodeURIComponent(a.id)}` },
        "Timeline", el("span", { class: "visually-hidden" }, ` of alert ${a.short_code}`))));
  }

  function ladder(v) {
    const l = v.ladder;
    if (!l) return "Not overdue";
    const steps = `${l.steps_taken} step${l.steps_taken === 1 ? "" : "s"}${l.of ? ` of ${l.of}` : ""}`;
    const last = l.last ? ` — ${STEP[l.last] || l.last}` : "";
    const ended = l.ended ? ` — ended by ${LW.person(l.ended.by, v)}` : " — still running";
    return `${steps}${last}${ended}`;
  }

  function visitRow(v) {
    return el("tr", { class: v.ladder ? "visit-row overdue" : "visit-row" },
      el("th", { scope: "row", "data-label": "Day" }, v.date || "—"),
      cell("Visitor", (v.staff_names || v.staff || []).join(" and "), v.school_name ? el("div", { class: "counts" }, v.school_name) : null),
      cell("State", el("span", { class: `badge state visit-${v.state}` }, words(v.state, {}))),
      cell("Outcome", words(v.outcome, OUTCOME), v.safeguarding_concern ? el("div", { class: "stale" }, "Safeguarding concern") : null),
      cell("Overdue ladder", ladder(v)),
      cell("Record", el("a", { href: `/console/timeline?visit=${encodeURIComponent(v.id)}` },
        "Timeline", el("span", { class: "visually-hidden" }, ` of the visit on ${v.date}`))));
  }

  async function search() {
    const { what, query } = fromAddress();
    const offset = Number(query.get("offset") || 0);
    query.delete("what");
    query.set("limit", String(PAGE));
    const error = document.getElementById("form-error");
    error.textContent = "";
    document.getElementById("head").replaceChildren(el("tr", {}, HEADS[what].map((h) => el("th", { scope: "col" }, h))));
    const body = document.getElementById("results");
    let page;
    try {
      page = await api(`/api/v1/${what}/history?${query}`);
    } catch (e) {
      if (e.status === 400) error.textContent = e.message;
      else LW.refusal(e, `search past ${what}`);
      body.replaceChildren();
      return;
    }
    const rows = page[what];
    body.replaceChildren(...(rows.length ? rows.map(what === "alerts" ? alertRow : visitRow)
      : [el("tr", {}, el("td", { colspan: String(HEADS[what].length) }, `No ${what} match these filters.`))]));
    const shown = rows.length ? `${what === "alerts" ? "Alerts" : "Visits"} ${offset + 1}–${offset + rows.length}` : "None found";
    document.getElementById("summary").textContent = `${shown}${page.next_offset == null ? "" : " (more on the next page)"}.`;
    LW.announce(`${rows.length} ${what} found`);
    const newer = document.getElementById("newer"), older = document.getElementById("older");
    newer.disabled = offset === 0;
    older.disabled = page.next_offset == null;
    newer.onclick = () => { toAddress(Math.max(0, offset - PAGE)); search(); };
    older.onclick = () => { toAddress(page.next_offset); search(); };
  }

  LW.start("history", { live: false }).then(() => {
    form.addEventListener("change", (event) => {
      if (event.target.name === "what") showFor(event.target.value);
    });
    form.addEventListener("submit", (event) => { event.preventDefault(); toAddress(); search(); });
    form.addEventListener("reset", () => {
      setTimeout(() => {
        showFor(form.elements.what.value);
        history.pushState(null, "", `?what=${form.elements.what.value}`);
        search();
      }, 0);
    });
    window.addEventListener("popstate", () => { fillForm(); search(); });
    fillForm();
    search();
  });
})();
