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
  let toldOpen = false; // the "who was told" detail stays open while stepping through

  // A sentence with a link in it (a map link the device gave) as text and a real link.
  function linked(text) {
    return text.split(/(https?:\/\/\S+?)(?=[\s),]|\.?$)/).map((part, i) =>
      i % 2 ? el("a", { href: part, target: "_blank", rel: "noopener" }, "map") : part);
  }
  // The subject as it stood, in the words the server wrote (service/records/as_it_stood.py):
  // a headline, the escalation in one sentence, what had happened, and who was told one
  // click away; an alert's map beside it.
  function stateView(words, state) {
    if (!words) return el("p", {}, "Nothing recorded yet.");
    const told = words.told && words.told.length ? el("details", {
      class: "stood-told", open: toldOpen, ontoggle: (e) => { toldOpen = e.target.open; },
    }, el("summary", {}, `Who was told, person by person (${words.told.length})`),
    el("ul", {}, words.told.map((line) => el("li", {}, line)))) : null;
    const alert = state && state.alert;
    const map = alert ? LW.alertMap((alert.cause && alert.cause.location) || alert.location) : null;
    return el("div", { class: `stood${map ? " with-map" : ""}` },
      el("div", { class: "stood-words" },
        el("h3", { class: "stood-headline" }, words.headline),
        words.escalation ? el("p", { class: "stood-escalation" }, words.escalation) : null,
        words.lines.length ? el("ul", { class: "stood-lines" }, words.lines.map((line) => el("li", {}, linked(line)))) : null,
        told),
      map);
  }

  function show(index) {
    const slider = document.getElementById("slider");
    slider.value = String(index);
    const row = events[index - 1];
    document.getElementById("as-of").textContent = row
      ? `After event ${index} of ${total || events.length}, ${LW.fmtDate(row.recorded_at)}: ${row.summary}`
      : "Nothing had been recorded yet at that time.";
    slider.setAttribute("aria-valuetext", row ? `event ${index} of ${total || events.length}, ${LW.fmtDate(row.recorded_at)}` : "before the first event");
    const state = document.getElementById("state");
    const view = stateView(row ? row.as_it_stood : null, row ? row.state_after : null);
    LW.keepMap(state, view);
    state.replaceChildren(view);
    // The time picker follows the slider, so the two never show different moments.
    const jump = document.getElementById("jump");
    if (row && document.activeElement !== jump) jump.value = LW.wallClock(row.recorded_at);
    document.querySelectorAll("#events tr").forEach((tr, i) => {
      tr.classList.toggle("future", i >= index);
      tr.classList.toggle("current", i === index - 1);
      if (i === index - 1) tr.setAttribute("aria-current", "step"); else tr.removeAttribute("aria-current");
    });
  }

  // A page's verdict is the whole record's, checked at `checked_at` (up to a minute before;
  // the rows shown are checked on every page: service/records/pages.py). A long record's
  // first page comes before the whole check is done (`checking`: service/records/first_page.py):
  // its rows are checked, the rest is not yet, so it says so and never "verified".
  function verdict(check) {
    if (check.checking && check.verified !== false) {
      return el("section", { class: "verdict checking", role: "status", "aria-labelledby": "verdict-h" },
        el("h2", { id: "verdict-h" }, "Checking the whole record…"),
        el("p", {}, "The rows shown carry their seals; the verdict on the whole record follows in a moment."));
    }
    const ok = check.verified;
    const when = check.checked_at ? ` Whole record checked ${LW.fmtStamp(check.checked_at)}.`
      : check.checking ? " Checking the rest of the record…" : "";
    return el("section", { class: `verdict ${ok ? "ok" : "bad"}`, role: ok ? null : "alert", "aria-labelledby": "verdict-h" },
      el("h2", { id: "verdict-h" }, ok ? "Record verified: not altered since it was recorded" : "Integrity check FAILED: this record has been altered"),
      el("p", {}, (ok
        ? `All ${check.events} stored events in ${check.streams} streams carry seals that recompute from their content.`
        : `${check.problems.length} problem(s): ` + check.problems.map((p) => p.detail).join("; ") + ".") + when));
  }

  // While the whole record is being checked, ask for its verdict alone until it comes, then
  // show it in place. The verdict read (GET /api/v1/timeline/verdict) is not a viewing: the
  // audit trail keeps the one opening of the record, not each of these questions.
  function awaitVerdict(record, tries = 0) {
    if (!record.integrity.checking) return;
    if (tries >= 60) {
      document.getElementById("verdict").replaceChildren(el("section", { class: "verdict bad", role: "alert" },
        el("h2", {}, "The whole record could not be checked yet"), el("p", {}, "Reload the page to try again.")));
      return;
    }
    setTimeout(() => api(verdictOf).then((checked) => {
      if (checked.integrity.checking) { awaitVerdict(record, tries + 1); return; }
      document.getElementById("verdict").replaceChildren(verdict(checked.integrity));
      total = checked.total;
      titled(record); // the count may have grown; the subject is the page's
      append([]);
    }).catch((e) => LW.refusal(e, "check this record")), 1000);
  }

  function titled(record) {
    const [heading, sub] = title(record);
    document.getElementById("title").textContent = heading;
    document.title = `${heading} — Lonewatch`;
    document.getElementById("subtitle").textContent =
      `${sub ? sub + " · " : ""}${total} recorded events. Your viewing has been recorded (${accessId.slice(0, 8)}).`;
  }

  // The subject as the record says it stands; a long record's first page (`checking`) has
  // no state yet, and its last row's state names the subject as well.
  function title(record) {
    const last = record.events && record.events.length ? record.events.at(-1).state_after : null;
    const state = record.state || last;
    const a = state && state.alert;
    if (a) return [`${KIND[a.kind] || a.kind} alert ${a.short_code}`, `${a.staff_name || a.staff || ""} · ${a.school_name || a.school}`];
    const v = state && state.visit;
    if (v) return [`Visit by ${(v.staff_names || v.staff || []).join(" and ")}`, `${v.address} · ${v.school_name || v.school}`];
    const d = state && state.device;
    if (d) return [`Device ${d.id}`, d.staff_name ? `carried by ${d.staff_name}` : ""];
    return [`Timeline of ${kind} ${query.get(kind)}`, ""];
  }

  // A long record comes in pages (the server's default size); more are asked for as the
  // reader scrolls to the end of the table or presses "Show more".
  const base = `/api/v1/timeline?${kind}=${encodeURIComponent(query.get(kind))}`;
  const verdictOf = `/api/v1/timeline/verdict?${kind}=${encodeURIComponent(query.get(kind))}`;
  let total = 0;
  let nextAfter = null;
  let loading = null;
  let paged = false; // a record that fit in one page says nothing about pages
  let accessId = "";

  function rowOf(row, i) {
    return el("tr", {
      class: [row.sealed ? "" : "tampered", row.detail && row.sealed ? "detail" : ""].join(" ").trim() || null,
      tabindex: "0",
      onclick: () => show(i + 1), onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); show(i + 1); } },
    },
    el("td", { class: "num" }, String(i + 1)),
    el("td", { class: "num when" }, LW.fmtStamp(row.recorded_at)),
    el("td", {}, row.who || row.source),
    el("td", {}, linked(row.summary)),
    el("td", { class: "nowrap" }, row.sealed ? el("span", { class: "seal-ok" }, "✓ sealed") : el("span", { class: "seal-bad" }, "✗ altered")));
  }

  // Each try of each message is kept but folded: the reader wants who was told, not the
  // outbox's machinery (an altered row is never folded).
  function foldLabel() {
    const folded = events.filter((row) => row.detail && row.sealed).length;
    const fold = document.getElementById("fold");
    fold.hidden = !folded;
    const shown = document.getElementById("events-table").classList.contains("show-detail");
    fold.textContent = shown ? `Hide each try of each message (${folded})` : `Show each try of each message (${folded})`;
  }

  function append(rows) {
    const from = events.length;
    events = events.concat(rows);
    document.getElementById("events").append(...rows.map((row, i) => rowOf(row, from + i)));
    document.getElementById("slider").max = String(Math.max(events.length, 1));
    const jump = document.getElementById("jump");
    if (events.length) {
      jump.min = LW.wallClock(events[0].recorded_at);
      jump.max = LW.wallClock(events.at(-1).recorded_at);
    }
    paged = paged || nextAfter !== null;
    document.getElementById("showing").textContent = !paged ? "" : nextAfter === null
      ? `Showing all ${total.toLocaleString("en-GB")} events.`
      : `Showing ${events.length.toLocaleString("en-GB")} of ${total.toLocaleString("en-GB")} events.`;
    document.getElementById("more").hidden = nextAfter === null;
    foldLabel();
  }

  function more() {
    if (nextAfter === null || loading) return loading;
    const button = document.getElementById("more");
    button.disabled = true;
    loading = api(`${base}&after=${nextAfter}`).then((page) => {
      nextAfter = page.next_after;
      total = page.total;
      const at = Number(document.getElementById("slider").value);
      append(page.events);
      show(at);
    }).catch((e) => LW.refusal(e, "load more of this record")).finally(() => {
      button.disabled = false;
      loading = null;
    });
    return loading;
  }

  LW.start("timeline", { live: false }).then(async (session) => {
    if (!kind) { document.getElementById("subtitle").textContent = "Open a timeline from an alert, a device or a visit."; return; }
    let record;
    try {
      record = await api(base);
    } catch (e) {
      document.getElementById("subtitle").textContent = "";
      LW.refusal(e, "open this record");
      return;
    }
    total = record.total;
    nextAfter = record.next_after;
    accessId = record.access_id;
    titled(record);
    // What this reader may not see is shown as [confidential]; the server says why.
    document.getElementById("withheld").replaceChildren(record.withheld ? el("p", { class: "withheld-note", role: "note" }, record.withheld) : "");
    document.getElementById("verdict").replaceChildren(verdict(record.integrity));
    append(record.events);
    awaitVerdict(record);
    const fold = document.getElementById("fold");
    fold.addEventListener("click", () => {
      const shown = document.getElementById("events-table").classList.toggle("show-detail");
      fold.setAttribute("aria-pressed", String(shown));
      foldLabel();
    });
    const moreButton = document.getElementById("more");
    moreButton.addEventListener("click", more);
    if ("IntersectionObserver" in window) {
      new IntersectionObserver((seen) => { if (seen.some((s) => s.isIntersecting)) more(); })
        .observe(moreButton);
    }
    const slider = document.getElementById("slider");
    slider.addEventListener("input", () => show(Number(slider.value)));
    const jump = document.getElementById("jump");
    jump.addEventListener("change", () => {
      if (!jump.value) return;
      const t = LW.fromWallClock(jump.value) + 999; // the whole second picked, in the school's zone
      let index = 0;
      events.forEach((row, i) => { if (new Date(row.recorded_at).getTime() <= t) index = i + 1; });
      show(index);
    });
    show(events.length);
    if (session.may.export) {
      const exportBase = `/api/v1/timeline/export?${kind}=${encodeURIComponent(query.get(kind))}`;
      document.getElementById("exports").replaceChildren(
        el("a", { class: "button primary", href: `${exportBase}&format=html`, target: "_blank", rel: "noopener" }, "Printable record"),
        " ",
        el("a", { class: "button secondary", href: `${exportBase}&format=json`, download: "" }, "JSON"));
    }
  });
})();
