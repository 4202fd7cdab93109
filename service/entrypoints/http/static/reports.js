// The monthly report: GET /api/v1/kpis (service/records/kpis.py) per school, drawn as plain
// inline SVG bars (no chart library), with the figures in tables beside them for screen
// readers and print; overdue visits from the visit history, each with how far its ladder went.
"use strict";

(() => {
  const { el, api } = LW;
  const SVG = "http://www.w3.org/2000/svg";
  const TREND_MONTHS = 6;
  // The BS 8484 answer-time bands (kpis.BANDS) and the share of alarms each should hold.
  const BANDS = [
    { key: "acknowledged_within_10s", label: "Taken within 10 s", target: 0.8 },
    { key: "acknowledged_within_40s", label: "Taken within 40 s", target: 0.985 },
  ];
  const KIND = {
    sos: "SOS", concern: "Concern", fall: "Fall", duress: "Duress", overdue: "Overdue", device_offline: "Device offline",
    low_battery: "Low battery",
  };
  const STEP = { contact_staff: "visitor contacted", reception_calls_home: "reception rang the home", inform_slt: "SLT told" };
  const pct = (share) => (share == null ? "—" : `${Math.round(share * 1000) / 10}%`);
  const secs = (s) => (s == null ? "—" : `${s} s`);

  function svg(tag, attrs = {}, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }

  // Horizontal bars, one per item, scaled to `max`; an optional dashed target line per bar.
  // The picture is described by its title; the same figures are in the table next to it.
  function bars(title, items, { max, format = String, targets = [] } = {}) {
    const rowH = 34, labelW = 170, chartW = 340, valueW = 100, top = 6;
    const height = top + items.length * rowH + 4;
    const top1 = max || Math.max(1, ...items.map((i) => i.value || 0));
    const chart = svg("svg", {
      viewBox: `0 0 ${labelW + chartW + valueW} ${height}`, role: "img", "aria-label": title, class: "chart",
    }, svg("title", {}, title));
    items.forEach((item, n) => {
      const y = top + n * rowH;
      const w = Math.max(0, ((item.value || 0) / top1) * chartW);
      chart.append(
        svg("text", { x: labelW - 8, y: y + 19, "text-anchor": "end", class: "chart-label" }, item.label),
        svg("rect", { x: labelW, y: y + 4, width: chartW, height: 22, class: "chart-track" }),
        svg("rect", { x: labelW, y: y + 4, width: w, height: 22, class: item.bad ? "chart-bar bad" : "chart-bar" }),
        svg("text", { x: labelW + chartW + 8, y: y + 19, class: "chart-value" }, item.text || format(item.value)));
      const target = targets[n];
      if (target != null) {
        const x = labelW + (target / top1) * chartW;
        chart.append(svg("line", { x1: x, x2: x, y1: y, y2: y + 30, class: "chart-target" }));
      }
    });
    return chart;
  }

  function figuresTable(caption, rows) {
    return el("table", { class: "data figures" }, el("caption", {}, caption),
      el("tbody", {}, rows.map(([name, value, note]) =>
        el("tr", {}, el("th", { scope: "row" }, name), el("td", { class: "num" }, value), el("td", { class: "counts" }, note || "")))));
  }

  function monthsBefore(month, count) {
    const [y, m] = month.split("-").map(Number);
    return Array.from({ length: count }, (_, i) => {
      const d = new Date(Date.UTC(y, m - 1 - (count - 1 - i), 1));
      return d.toISOString().slice(0, 7);
    });
  }
  const monthName = (month) => new Intl.DateTimeFormat("en-GB", { month: "short", year: "numeric", timeZone: "UTC" })
    .format(new Date(`${month}-01T00:00:00Z`));

  function lastDay(month) {
    const [y, m] = month.split("-").map(Number);
    return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
  }

  function bandSection(f) {
    const items = BANDS.map((b) => ({ label: b.label, value: f[b.key], bad: f[b.key] < b.target }));
    return el("div", { class: "report-block" },
      el("h3", {}, "Answer times against the BS 8484 bands"),
      bars("Share of alarms taken within 10 s and within 40 s; dashed lines mark the targets", items,
        { max: 1, format: pct, targets: BANDS.map((b) => b.target) }),
      figuresTable("Answer times", [
        ...BANDS.map((b) => [b.label, pct(f[b.key]), `target ${pct(b.target)}: ${f[b.key] >= b.target ? "met" : "not met"}`]),
        ["Press to acknowledgement, median", secs(f.press_to_acknowledgement_s.median), `80th percentile ${secs(f.press_to_acknowledgement_s.p80)}`],
        ["Press to first notification, median", secs(f.press_to_first_notification_s.median), `98.5th percentile ${secs(f.press_to_first_notification_s.p98_5)}`],
        ["Press to first delivery, median", secs(f.press_to_first_delivery_s.median), `${f.press_to_first_delivery_s.count} delivered`],
        ["Never taken", String(f.unacknowledged), ""],
      ]));
  }

  function kindSection(f) {
    const kinds = Object.entries(f.by_kind);
    return el("div", { class: "report-block" },
      el("h3", {}, "Alarms by kind"),
      bars("Alarms by kind", kinds.map(([k, n]) => ({ label: KIND[k] || k, value: n }))),
      figuresTable("Alarms", [
        ["Alarms", String(f.alarms), ""],
        ...kinds.map(([k, n]) => [KIND[k] || k, String(n), ""]),
        ["False alarms", String(f.false_alarms), f.alarms ? `${pct(f.false_alarms / f.alarms)} of alarms` : ""],
      ]));
  }

  function ladderSection(f, visits) {
    const tiers = Object.entries(f.overdue.highest_tier);
    const rows = visits.map((v) => {
      const l = v.ladder || {};
      const how = l.ended ? `ended by ${(l.ended.by || "").replace(/^[a-z_]+:/, "")}` : "still running";
      return el("tr", {},
        el("th", { scope: "row" }, v.date),
        el("td", {}, (v.staff_names || v.staff || []).join(" and ")),
        el("td", { class: "num" }, `${l.steps_taken ?? "—"}${l.of ? ` of ${l.of}` : ""}`),
        el("td", {}, l.last ? STEP[l.last] || l.last : "—", ` — ${how}`),
        el("td", { class: "no-print" }, el("a", { href: `/console/timeline?visit=${encodeURIComponent(v.id)}` }, "Timeline",
          el("span", { class: "visually-hidden" }, ` of the visit on ${v.date}`))));
    });
    return el("div", { class: "report-block wide" },
      el("h3", {}, `Overdue visits: ${f.overdue.count}`),
      tiers.length ? bars("Overdue alarms by the highest tier of the ladder reached",
        tiers.map(([t, n]) => ({ label: `Tier ${t}`, value: n }))) : el("p", { class: "counts" }, "No visit went overdue."),
      visits.length ? el("table", { class: "data" }, el("caption", {}, "Each overdue visit and how far its ladder went"),
        el("thead", {}, el("tr", {}, ["Day", "Visitor", "Ladder steps", "Last step", "Record"].map((h, i) =>
          el("th", { scope: "col", class: i === 4 ? "no-print" : null }, h)))),
        el("tbody", {}, rows)) : null);
  }

  function trendSection(school, trend) {
    const items = trend.map(({ month, figures }) => ({
      label: monthName(month), value: figures ? figures.acknowledged_within_10s : 0,
      bad: figures ? figures.acknowledged_within_10s < BANDS[0].target : false,
      text: figures ? null : "no alarms",
    }));
    return el("div", { class: "report-block" },
      el("h3", {}, `Taken within 10 s, last ${TREND_MONTHS} months`),
      bars(`Share taken within 10 s at ${school}, month by month`, items, { max: 1, format: pct, targets: items.map(() => BANDS[0].target) }),
      figuresTable("Month by month", trend.map(({ month, figures }) => [
        monthName(month), figures ? pct(figures.acknowledged_within_10s) : "—", figures ? `${figures.alarms} ${figures.alarms === 1 ? "alarm" : "alarms"}` : "no alarms"])));
  }

  async function show(month) {
    const report = document.getElementById("report");
    const error = document.getElementById("form-error");
    error.textContent = "";
    document.getElementById("report-title").textContent = `Monthly report: ${monthName(month)}`;
    let months, overdue;
    try {
      months = [];  // one at a time: the figures are worked out in the export pool, which is small
      for (const m of monthsBefore(month, TREND_MONTHS)) months.push(await api(`/api/v1/kpis?month=${m}`));
      overdue = await api(`/api/v1/visits/history?overdue=true&from=${month}-01&to=${lastDay(month)}&limit=200`);
    } catch (e) {
      if (e.status === 400) error.textContent = e.message;
      else LW.refusal(e, "read the monthly figures");
      return;
    }
    const current = months[months.length - 1];
    const schools = Object.keys(current.schools);
    document.getElementById("printed").textContent = `Figures as recorded at ${LW.fmtDate(new Date().toISOString())}.`;
    if (!schools.length) {
      report.replaceChildren(el("p", { class: "empty" }, el("strong", {}, "No alarms this month."), `Nothing was raised in ${monthName(month)}.`));
      return;
    }
    report.replaceChildren(...schools.map((school) => {
      const f = current.schools[school];
      const trend = months.map((k) => ({ month: k.month, figures: k.schools[school] || null }));
      const visits = overdue.visits.filter((v) => v.school === school);
      const name = f.school_name || school;
      return el("section", { class: "school-report", "aria-labelledby": `school-${school}` },
        el("h2", { id: `school-${school}` }, `${name}: ${f.alarms} alarm${f.alarms === 1 ? "" : "s"}`),
        el("div", { class: "report-grid" }, bandSection(f), kindSection(f), trendSection(name, trend), ladderSection(f, visits)));
    }));
    LW.announce(`Report for ${monthName(month)} shown`);
  }

  LW.start("reports", { live: false }).then(() => {
    const form = document.getElementById("pick");
    const query = new URLSearchParams(location.search);
    const today = LW.wallClock(new Date().toISOString()).slice(0, 7);
    form.elements.month.value = /^\d{4}-\d{2}$/.test(query.get("month") || "") ? query.get("month") : today;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      history.replaceState(null, "", `?month=${form.elements.month.value}`);
      show(form.elements.month.value);
    });
    document.getElementById("print").addEventListener("click", () => window.print());
    show(form.elements.month.value);
  });
})();
