// The DSL's replay: every recorded event in order, whether the record verifies, and the
// subject as it stood after any event or at any time.
"use strict";

(() => {
  const { el, api } = LW;
  const query = new URLSearchParams(location.search);
  const kind = ["alert", "visit", "device", "staff"].find((k) => query.has(k));
  let events = [];

  const KIND = {
    sos: "SOS", concern: "Concern", fall: "Fall", duress: "Duress", overdue: "Overdue visit", device_offline: "Device offline",
    low_battery: "Low battery", notification_failed: "Notification failed", arc_unreachable: "Alarm centre unreachable",
  };
  const OUTCOME = { safe: "Safe", false_alarm: "False alarm", emergency_services_called: "Emergency services called", other: "Other" };

  function facts(pairs) {
    return el("dl", { class: "facts" }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "")
      .map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  }
  function alertFacts(a) {
    const told = Object.values(a.notifications || {}).map((n) => `${n.contact_name} (${n.channel}): ${n.state}`).join("; ");
    return el("div", { class: `alert-card ${a.severity} state-${a.state}` },
      el("h3", { class: "alert-title" }, el("span", { class: `badge ${a.severity}` }, a.severity),
        `${KIND[a.kind] || a.kind} — ${a.staff_name || a.staff || "no visitor"}`,
        el("span", { class: `badge state ${a.state}` }, a.state)),
      facts([
        ["School", a.school_name || a.school], ["Device", a.device], ["Code", a.short_code],
        ["Address", a.address], ["Raised", LW.fmtDate(a.raised_at)],
        ["Location", a.location && a.location.lat != null ? `${a.location.lat}, ${a.location.lon}` : "not known"],
        ["Who had been told", told || "nobody yet"],
        ["Taken by", a.acknowledged_by ? `${a.acknowledged_by} at ${LW.fmtDate(a.acknowledged_at)}` : "nobody yet"],
        ["Resolved", a.resolved_by ? `${LW.fmtDate(a.resolved_at)} by ${a.resolved_by}` : null],
        ["Outcome", a.outcome ? OUTCOME[a.outcome] || a.outcome : null], ["Note", a.note],
      ]),
      LW.alertMap((a.cause && a.cause.location) || a.location));
  }
  function stateView(state) {
    if (!state) return el("p", {}, "Nothing recorded yet.");
    if (state.alert) return alertFacts(state.alert);
    if (state.device) {
      const d = state.device;
      return facts([["Device", d.id], ["Carried by", d.staff_name], ["Last seen", LW.fmtDate(d.last_seen)],
        ["Last message", d.last_kind], ["Battery", d.battery != null ? `${d.battery}%` : null],
        ["Location", d.location ? `${d.location.lat}, ${d.location.lon}` : null],
        ["Messages", Object.entries(d.counts || {}).map(([k, v]) => `${k} ${v}`).join(" · ")]]);
    }
    if (state.alerts) {
      return state.alerts.length ? el("div", { class: "alerts" }, state.alerts.map(alertFacts)) : el("p", {}, "No alerts by then.");
    }
    // Any other record (a visit, say): its plain fields, as recorded.
    const [name, doc] = Object.entries(state)[0] || [];
    if (!doc) return el("p", {}, `No ${name || "record"} yet at that point.`);
    return facts(Object.entries(doc)
      .filter(([, v]) => v !== null && typeof v !== "object")
      .map(([k, v]) => [k.replace(/_/g, " "), /_at$/.test(k) ? LW.fmtDate(v) : String(v)]));
  }

  function show(index) {
    const slider = document.getElementById("slider");
    slider.value = String(index);
    const row = events[index - 1];
    document.getElementById("as-of").textContent = row
      ? `After event ${index} of ${events.length}, ${LW.fmtDate(row.recorded_at)}: ${row.summary}`
      : "Nothing had been recorded yet at that time.";
    slider.setAttribute("aria-valuetext", row ? `event ${index} of ${events.length}, ${LW.fmtDate(row.recorded_at)}` : "before the first event");
    document.getElementById("state").replaceChildren(stateView(row ? row.state_after : null));
    // The time picker follows the slider, so the two never show different moments.
    const jump = document.getElementById("jump");
    if (row && document.activeElement !== jump) jump.value = LW.wallClock(row.recorded_at);
    document.querySelectorAll("#events tr").forEach((tr, i) => {
      tr.classList.toggle("future", i >= index);
      tr.classList.toggle("current", i === index - 1);
      if (i === index - 1) tr.setAttribute("aria-current", "step"); else tr.removeAttribute("aria-current");
    });
  }

  function verdict(check) {
    const ok = check.verified;
    return el("section", { class: `verdict ${ok ? "ok" : "bad"}`, role: ok ? null : "alert", "aria-labelledby": "verdict-h" },
      el("h2", { id: "verdict-h" }, ok ? "Record verified: not altered since it was recorded" : "Integrity check FAILED: this record has been altered"),
      el("p", {}, ok
        ? `All ${check.events} stored events in ${check.streams} streams carry seals that recompute from their content.`
        : `${check.problems.length} problem(s): ` + check.problems.map((p) => p.detail).join("; ")));
  }

  function title(record) {
    const a = record.state && record.state.alert;
    if (a) return [`${KIND[a.kind] || a.kind} alert ${a.short_code}`, `${a.staff_name || a.staff || ""} · ${a.school_name || a.school}`];
    return [`Timeline of ${kind} ${query.get(kind)}`, ""];
  }

  LW.start("timeline", { live: false }).then(async (session) => {
    if (!kind) { document.getElementById("subtitle").textContent = "Open a timeline from an alert, a device or a visit."; return; }
    let record;
    try {
      record = await api(`/api/v1/timeline?${kind}=${encodeURIComponent(query.get(kind))}`);
    } catch (e) {
      document.getElementById("subtitle").textContent = "";
      LW.refusal(e, "open this record");
      return;
    }
    events = record.events;
    const [heading, sub] = title(record);
    document.getElementById("title").textContent = heading;
    document.title = `${heading} — Lonewatch`;
    document.getElementById("subtitle").textContent =
      `${sub ? sub + " · " : ""}${events.length} recorded events. Your viewing has been recorded (${record.access_id.slice(0, 8)}).`;
    document.getElementById("verdict").replaceChildren(verdict(record.integrity));
    document.getElementById("events").replaceChildren(...events.map((row, i) => el("tr", {
      class: row.sealed ? null : "tampered", tabindex: "0",
      onclick: () => show(i + 1), onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); show(i + 1); } },
    },
      el("td", { class: "num" }, String(i + 1)),
      el("td", { class: "num nowrap" }, LW.fmtStamp(row.recorded_at)),
      el("td", {}, row.who || row.source),
      el("td", {}, row.summary),
      el("td", { class: "nowrap" }, row.sealed ? el("span", { class: "seal-ok" }, "✓ sealed") : el("span", { class: "seal-bad" }, "✗ altered")))));
    const slider = document.getElementById("slider");
    slider.max = String(Math.max(events.length, 1));
    slider.addEventListener("input", () => show(Number(slider.value)));
    const jump = document.getElementById("jump");
    if (events.length) {
      jump.min = LW.wallClock(events[0].recorded_at);
      jump.max = LW.wallClock(events.at(-1).recorded_at);
    }
    jump.addEventListener("change", () => {
      if (!jump.value) return;
      const t = LW.fromWallClock(jump.value) + 999; // the whole second picked, in the school's zone
      let index = 0;
      events.forEach((row, i) => { if (new Date(row.recorded_at).getTime() <= t) index = i + 1; });
      show(index);
    });
    show(events.length);
    if (session.may.export) {
      const base = `/api/v1/timeline/export?${kind}=${encodeURIComponent(query.get(kind))}`;
      document.getElementById("exports").replaceChildren(
        el("a", { class: "button primary", href: `${base}&format=html`, target: "_blank", rel: "noopener" }, "Printable record"),
        " ",
        el("a", { class: "button secondary", href: `${base}&format=json`, download: "" }, "JSON"));
    }
  });
})();
