// The visit board: who is out now, where, when they are due back (counting down, and
// "overdue by" in red once the expected return has passed), their device, and the tasks
// the overdue ladder gives reception, each with a Done button (ringing the home asks what
// reception found, which decides whether SLT are told).
"use strict";

(() => {
  const { el, api } = LW;
  const OUT = new Set(["departed", "arrived", "left"]);
  const NOT_YET = new Set(["planned", "authorised"]);
  const LOW_BATTERY = 20; // when the visit's own low_battery_below is not known
  const visits = new Map();
  const tasks = new Map();
  const wasLate = new Map(); // visit id -> late at the last tick, to announce changes once
  let canDoTasks = false;

  const STATE = {
    planned: "Planned — not authorised", authorised: "Authorised — not signed out",
    departed: "On the way", arrived: "At the property", left: "Left the property",
    returned: "Back", reported: "Reported", closed: "Closed", cancelled: "Cancelled",
  };
  const STEP = LW.OVERDUE_STEPS;
  // What reception found when they rang the pupil's home: it decides whether SLT are told
  // ("If contact has not been made or there is any cause for concern, a member of SLT will
  // be informed.").
  const CALL_HOME = [
    ["contact_made_no_concern", "Spoke to the family — no cause for concern"],
    ["no_contact", "Could not reach anyone at the home"],
    ["concern", "Spoke to the family — there is a cause for concern"],
  ];
  const CALL_HOME_WORDS = Object.fromEntries(CALL_HOME);
  const isCallHome = (t) => t.id.startsWith("visit-call-home:");
  const who = (v) => (v.staff_names || v.staff || []).join(" & ") || "—";
  const today = () => new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/London" }).format(new Date());

  // -- time words ----------------------------------------------------------------------
  function span(ms) {
    const minutes = Math.max(0, Math.floor(ms / 60000));
    const h = Math.floor(minutes / 60);
    const m = minutes % 60;
    if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
    if (minutes < 10) {
      const s = Math.max(0, Math.floor(ms / 1000)) % 60;
      return `${m}m ${String(s).padStart(2, "0")}s`;
    }
    return `${m}m`;
  }
  const isLate = (v, now) => now >= new Date(v.expected_return).getTime();
  function dueWords(v, now) {
    const back = new Date(v.expected_return).getTime();
    if (now >= back) return `overdue by ${span(now - back)}`;
    const left = back - now;
    return `in ${span(left < 600000 ? left : Math.ceil(left / 60000) * 60000)}`; // 14m 20s left: "in 15m"
  }
  function ladderWords(v, now) {
    if (v.overdue) {
      const step = v.overdue_step;
      if (!step) return "Overdue ladder started";
      const held = step.action === "inform_slt" && step.decision && !step.decision.inform;
      return `Overdue ladder — step ${step.step}: ${held ? "SLT not informed (reception reached the home, no concern)" : STEP[step.action] || step.action}`;
    }
    if (isLate(v, now) && v.due_back_by && now < new Date(v.due_back_by).getTime()) {
      return `Within the grace period: the ladder starts at ${LW.fmtClock(v.due_back_by).slice(0, 5)} if there is no word`;
    }
    return null;
  }

  // -- pieces --------------------------------------------------------------------------
  function fill(percent) {
    const bar = el("span");
    bar.style.width = `${Math.max(0, Math.min(100, percent))}%`; // CSSOM, allowed by the CSP
    return bar;
  }
  function device(v) {
    if (!v.device) return el("span", { class: "counts" }, v.lone ? "no device" : "pair visit — no device needed");
    const silent = v.device_silent_since
      || (v.last_heartbeat && (Date.now() - new Date(v.last_heartbeat).getTime()) / 1000 > (v.offline_after || 180));
    const battery = v.battery === undefined || v.battery === null ? null : Number(v.battery);
    const low = battery !== null && battery < (v.low_battery_below || LOW_BATTERY);
    return el("div", { class: "device" },
      el("div", {}, el("strong", {}, v.device)),
      el("div", { class: silent ? "heard stale" : "heard" },
        v.last_heartbeat
          ? ["heard ", el("span", { "data-since": v.last_heartbeat, title: LW.fmtDate(v.last_heartbeat) }, LW.fmtAgo(v.last_heartbeat))]
          : "not heard since sign-out",
        silent ? " — silent" : ""),
      battery === null ? el("div", { class: "counts" }, "battery not reported")
        : el("span", { class: `battery${low ? " low" : ""}` },
          el("span", { class: "bar", "aria-hidden": "true" }, fill(battery)), `${battery}%${low ? " low" : ""}`),
      v.low_battery_noticed ? el("div", { class: "counts" },
        `low-battery alert raised ${LW.fmtClock(v.low_battery_noticed.at).slice(0, 5)}`) : null);
  }
  function cell(label, ...content) {
    return el("td", { "data-label": label }, el("div", {}, ...content)); // one box: a card's grid
  }

  // An alarm raised while the visitor is out shows on their row, linked to its card: the
  // board once said "At the property" while three red alerts were open for the visitor.
  const ALERT_WORDS = { sos: "SOS", concern: "Concern", fall: "Fall", duress: "Duress", overdue: "Overdue alert",
    device_offline: "Device silent", low_battery: "Low battery" };
  function openAlerts(v) {
    const open = (v.alerts || []).filter((a) => a.state !== "resolved");
    if (!open.length) return null;
    return el("div", { class: "visit-alerts" }, open.map((a) => el("a", {
      class: `badge ${a.state === "acknowledged" ? "amber" : "red"}`, href: `/console/#alert-${a.id}`,
    }, `${ALERT_WORDS[a.kind] || a.kind} ${a.state === "acknowledged" ? "taken" : "open"}`)));
  }

  function outRow(v, now) {
    const late = isLate(v, now);
    const ladder = ladderWords(v, now);
    return el("tr", { id: `visit-${v.id}`, class: `visit-row${late ? " late" : ""}${v.overdue ? " overdue" : ""}`, "data-visit": v.id },
      el("th", { scope: "row", "data-label": "Visitor" }, el("div", {},
        el("span", { class: "visitor" }, who(v)),
        el("div", { class: "counts" }, `${v.lone ? "Lone" : "Pair"} visit · pupil ${v.pupil_ref}`),
        (v.instructions || []).map((text) => el("p", { class: "instruction" }, text)))), // the school's policy
      cell("Where", v.address || el("span", { class: "counts" }, "not shown to you")),
      cell("Due back",
        el("div", { class: "due", "data-due": v.id }, dueWords(v, now)),
        el("div", { class: "counts" }, `expected ${LW.fmtClock(v.expected_return).slice(0, 5)}`),
        el("div", { class: "ladder", "data-ladder": v.id }, ladder || ""),
        v.overdue && v.call_home ? el("div", { class: "counts call-home" },
          `Reception rang the home at ${LW.fmtClock(v.call_home.at).slice(0, 5)}: `
          + (CALL_HOME_WORDS[v.call_home.outcome] || "did not say what they found").toLowerCase()) : null),
      cell("State",
        el("span", { class: `badge state visit-${v.state}` }, STATE[v.state] || v.state),
        v.overdue ? el("span", { class: "badge red" }, "Overdue") : null,
        openAlerts(v),
        v.last_checkin ? el("div", { class: "counts" }, `checked in ${LW.fmtClock(v.last_checkin.at).slice(0, 5)}`) : null),
      cell("Device", device(v)),
      cell("Record", el("a", { href: `/console/timeline?visit=${encodeURIComponent(v.id)}` }, "Timeline",
        el("span", { class: "visually-hidden" }, ` for ${who(v)}`))));
  }

  function plannedRow(v) {
    return el("tr", { id: `visit-${v.id}` },
      el("th", { scope: "row", "data-label": "Visitor" }, el("div", {}, el("span", { class: "visitor" }, who(v)),
        el("div", { class: "counts" }, `${v.lone ? "Lone" : "Pair"} visit · pupil ${v.pupil_ref}`))),
      cell("Where", v.address || "—"),
      cell("Leaves", LW.fmtClock(v.planned_start).slice(0, 5)),
      cell("Due back", LW.fmtClock(v.expected_return).slice(0, 5)),
      cell("State", el("span", { class: `badge state visit-${v.state}` }, STATE[v.state] || v.state)),
      cell("School's policy", LWBefore.panel(v, recorded)), // visit_before.js
      cell("Record", el("a", { href: `/console/timeline?visit=${encodeURIComponent(v.id)}` }, "Timeline",
        el("span", { class: "visually-hidden" }, ` for ${who(v)}`))));
  }

  function table(label, headers, rows) {
    return el("div", { class: "table-wrap" }, el("table", { class: "data board", "aria-label": label },
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows)));
  }

  // -- tasks ---------------------------------------------------------------------------
  // The policy's order: the visitor is tried on their mobile, then reception rings the home.
  // The call-home card gives the visitor's mobile too, to try once more, read from the
  // visit's open overdue alert (the board's copy of a visit carries no numbers).
  function visitorMobiles(t, visit) {
    const alert = isCallHome(t) && visit && (visit.alerts || []).find((a) => a.kind === "overdue" && a.state !== "resolved");
    if (!alert) return null;
    // Raised silently (by the alert's recorded flag; a duress alert of before it by its kind).
    const duress = (visit.alerts || []).find((a) => (a.silent === true || a.kind === "duress") && a.state !== "resolved");
    if (duress) { // never a call the person with the visitor could hear (as the feed's card)
      const what = duress.kind === "duress" ? "duress alert" : "silent alert (the safe word was used)";
      return el("p", { class: "task-visitor" }, el("strong", {}, "Do not call the visitor: "),
        `a ${what} is open; see `, el("a", { href: `/console/#alert-${duress.id}` }, `the ${duress.kind === "duress" ? "duress" : "silent"} alert`), ".");
    }
    const link = el("a", { href: `/console/#alert-${alert.id}` }, "the overdue alert");
    const node = el("p", { class: "task-visitor" }, "The visitor's mobile is on ", link, ".");
    api(`/api/v1/alerts/${encodeURIComponent(alert.id)}`).then((doc) => {
      const people = ((doc.visit && doc.visit.visitors) || []).filter((p) => p.phone);
      if (!people.length) return;
      node.replaceChildren(el("strong", {}, "Try the visitor again: "), ...people.flatMap((p, i) => [
        i ? " · " : "", `${p.name} `, el("a", { class: "button secondary small", href: `tel:${p.phone}` },
          `Call ${p.phone}`, el("span", { class: "visually-hidden" }, ` (${p.name})`))]),
        el("span", { class: "counts" }, " — Lonewatch has texted and rung them; see ", link, "."));
    }).catch(() => {}); // the sentence and the link to the alert stay: the number is there
    return node;
  }

  function taskCard(t) {
    const visit = visits.get(t.visit);
    const error = el("p", { class: "form-error", role: "alert" });
    const note = el("input", { type: "text", name: "note", id: `note-${t.id}`, autocomplete: "off",
      placeholder: "e.g. spoke to parent, visitor left 10 min ago" });
    // Ringing the home asks what reception found; the DSL's follow-up needs only a note.
    const found = isCallHome(t) ? el("fieldset", { class: "call-home-outcome" },
      el("legend", {}, "What happened when you rang the home?"),
      el("p", { class: "counts", id: `hint-${t.id}` }, "SLT are told unless you spoke to the family and found no cause for concern."),
      CALL_HOME.map(([value, label]) => el("label", { class: "choice" },
        el("input", { type: "radio", name: "outcome", value, required: true, "aria-describedby": `hint-${t.id}` }), label))) : null;
    const form = el("form", { class: "task-form" },
      found,
      el("label", { for: `note-${t.id}` }, "Note (optional, kept in the record)"),
      el("div", { class: "task-actions" }, note,
        el("button", { class: "primary", type: "submit" }, "Done",
          el("span", { class: "visually-hidden" }, `: ${t.what}`))),
      error);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const body = { note: note.value.trim() };
        if (found) body.outcome = new FormData(form).get("outcome");
        const doc = await api(`/api/v1/tasks/${encodeURIComponent(t.id)}/done`, { method: "POST", body });
        upsertTask(doc);
        LW.announce(`Task done: ${t.what}`);
      } catch (e) {
        error.textContent = e.message;
        button.disabled = false;
        if (e.status === 409 || e.status === 404) setTimeout(reload, 4000);
      }
    });
    return el("li", { class: `task-card for-${t.for_role}`, id: `task-${t.id}`, "data-task": t.id },
      el("div", { class: "card-head" },
        el("h3", { class: "task-title" },
          el("span", { class: "badge red" }, t.for_role === "dsl" ? "For the DSL" : "Reception"),
          t.for_role === "dsl" ? "Follow up a safeguarding concern" : "Ring the pupil's home"),
        el("div", { class: "since" }, el("span", { "data-since": t.created_at }, LW.fmtAgo(t.created_at)),
          el("small", {}, `asked ${LW.fmtClock(t.created_at).slice(0, 5)}`))),
      el("p", { class: "task-what" }, t.what),
      // Lonewatch keeps no family's numbers (by design): the school's own records do.
      isCallHome(t) ? el("p", { class: "counts task-home-number" },
        "The home's number is in the pupil's records (the school's MIS): Lonewatch keeps no family's numbers.") : null,
      visit && visit.address ? el("p", { class: "counts" }, `Visit to ${visit.address}, expected back ${LW.fmtClock(visit.expected_return).slice(0, 5)}`) : null,
      visitorMobiles(t, visit),
      form);
  }

  function renderTasks() {
    const list = document.getElementById("tasks");
    const open = [...tasks.values()].filter((t) => t.state === "open").sort((a, b) => a.created_at.localeCompare(b.created_at));
    document.getElementById("tasks-section").hidden = !open.length;
    const wanted = new Set(open.map((t) => t.id));
    for (const node of [...list.children]) if (!wanted.has(node.dataset.task)) node.remove();
    open.forEach((t, i) => {
      let node = document.getElementById(`task-${t.id}`);
      if (!node) node = taskCard(t); // keep a note being typed: cards are built once
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
    });
  }

  // -- the board ----------------------------------------------------------------------
  function render() {
    const now = Date.now();
    const out = [...visits.values()].filter((v) => OUT.has(v.state))
      .sort((a, b) => (b.overdue - a.overdue) || (isLate(b, now) - isLate(a, now))
        || (a.due_back_by || a.expected_return).localeCompare(b.due_back_by || b.expected_return));
    const planned = [...visits.values()].filter((v) => NOT_YET.has(v.state) && v.date === today())
      .sort((a, b) => a.planned_start.localeCompare(b.planned_start));
    document.getElementById("board").replaceChildren(out.length
      ? table("Visitors out now, overdue first", ["Visitor", "Where", "Due back", "State", "Device", "Record"], out.map((v) => outRow(v, now)))
      : el("div", { class: "empty" }, el("strong", {}, "Nobody is out on a visit"), "Visitors appear here when they sign out, with a countdown to their expected return."));
    document.getElementById("planned").replaceChildren(planned.length
      ? table("Visits still to go out today", ["Visitor", "Where", "Leaves", "Due back", "State", "School's policy", "Record"], planned.map(plannedRow))
      : el("p", { class: "counts" }, "No more visits planned for today."));
    for (const v of out) wasLate.set(v.id, isLate(v, now));
    summary(out, now);
    renderTasks();
  }

  function summary(out, now) {
    const late = out.filter((v) => isLate(v, now)).length;
    const open = [...tasks.values()].filter((t) => t.state === "open").length;
    const words = [`${out.length} out now`];
    if (late) words.push(`${late} overdue`);
    if (open) words.push(`${open} task${open === 1 ? "" : "s"} to do`);
    document.getElementById("summary").textContent = `${words.join(" · ")}. Updated live.`;
    document.title = late ? `(${late}) OVERDUE — Visits — Lonewatch` : "Visits — Lonewatch";
  }

  // Every second: the countdowns, and a row that has just become overdue turns red and is
  // announced once.
  function tick() {
    const now = Date.now();
    document.getElementById("now").textContent = LW.fmtClock(new Date(now).toISOString()).slice(0, 5);
    const out = [...visits.values()].filter((v) => OUT.has(v.state));
    for (const v of out) {
      const late = isLate(v, now);
      const row = document.getElementById(`visit-${v.id}`);
      if (!row) continue;
      row.querySelector("[data-due]").textContent = dueWords(v, now);
      row.querySelector("[data-ladder]").textContent = ladderWords(v, now) || "";
      if (late !== wasLate.get(v.id)) {
        wasLate.set(v.id, late);
        row.classList.toggle("late", late);
        if (late) LW.announce(`${who(v)} is overdue: expected back at ${LW.fmtClock(v.expected_return).slice(0, 5)}.`);
        summary(out, now);
      }
    }
  }

  function upsertVisit(v) {
    const known = visits.get(v.id);
    if (known && v.updated_at && known.updated_at && v.updated_at < known.updated_at) return;
    // Whether this reader may authorise (`authorise`) is theirs alone, so the live stream's
    // shared copy lacks it: keep the answer read, or read the visit for it.
    if (v.state === "planned" && v.policy && !v.authorise) {
      if (known && known.authorise) v = { ...v, authorise: known.authorise };
      else api(`/api/v1/visits/${encodeURIComponent(v.id)}`).then((doc) => {
        const now = visits.get(v.id);
        if (now && now.state === "planned" && doc.authorise) {
          visits.set(v.id, { ...now, authorise: doc.authorise });
          render();
        }
      }, () => {});
    }
    const before = known && known.overdue;
    visits.set(v.id, v);
    if (v.overdue && !before) LW.announce(`${who(v)} is overdue: the overdue ladder has started.`);
    render();
  }
  // A before-visit step just recorded (visit_before.js): its answer is the visit as the
  // record has it, which the board's copy (and a staff member's 30 s poll) may not have yet.
  function recorded(doc) {
    const known = visits.get(doc.id);
    if (!known) return reload();
    const { state, authorised_by, before, policy, updated_at, authorise } = doc;
    upsertVisit({ ...known, state, authorised_by, before, policy, updated_at, authorise });
  }
  function upsertTask(t) {
    const before = tasks.get(t.id);
    tasks.set(t.id, t);
    if (t.state === "open" && !before) LW.announce(`New task: ${t.what}`);
    render();
  }

  async function reload() {
    const [out, day, open] = await Promise.all([
      api("/api/v1/visits?state=out"),
      api(`/api/v1/visits?date=${today()}`),
      canDoTasks ? api("/api/v1/tasks?state=open") : Promise.resolve({ tasks: [] }),
    ]);
    visits.clear();
    tasks.clear();
    for (const v of [...day.visits, ...out.visits]) visits.set(v.id, v);
    for (const t of open.tasks) tasks.set(t.id, t);
    render();
  }

  LW.start("visits").then(async (session) => {
    canDoTasks = session.may.watch;
    await reload();
    document.addEventListener("lw:visit-planned", () => reload()); // plan_visit.js
    setInterval(tick, 1000);
    tick();
    if (session.may.watch) {
      LW.live({ visit: upsertVisit, task: upsertTask }, reload);
    } else {
      // Staff are not given the live stream: their own visits are read again every 30 s.
      const pill = document.getElementById("live-pill");
      pill.textContent = "Every 30 s";
      pill.classList.remove("down");
      setInterval(() => reload().catch(() => pill.classList.add("down")), 30000);
    }
  });
})();
