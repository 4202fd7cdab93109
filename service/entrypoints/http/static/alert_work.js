// Working an open alert on its feed card: the notes and handovers it shows, the buttons
// and small forms that add them (POST /api/v1/alerts/{id}/notes, /handover). feed.js
// connects its render and upsert; the forms stay open across live updates of the card.
"use strict";

const AlertWork = (() => {
  const { el, api } = LW;
  let render = () => {};
  let upsert = () => {};
  // The note and handover forms open on a card (alert ids), kept across live updates.
  const openNoteForms = new Set();
  const openHandoverForms = new Set();
  let colleagues = null; // whom this person may hand an alert to, fetched when first asked
  // An actor of alert `a` as a person is known ("reception1 (contact centre)", "you").
  const person = (actor, a) => LW.person(actor, a);

  function connect(feed) { render = feed.render; upsert = feed.upsert; }
  const mine = (actor) => !!LW.session && actor === LW.session.actor;

  // "With" and "Notes and handovers", for the card's facts.
  function facts(a) {
    return [
      a.handed_to ? [el("dt", {}, "With"), el("dd", { class: `holder${mine(a.handed_to) ? " mine" : ""}` },
        mine(a.handed_to) ? `you (handed to you at ${LW.fmtClock(a.handed_at)})` : `${person(a.handed_to, a)}, since ${LW.fmtClock(a.handed_at)}`)] : null,
      (a.work || []).length ? [el("dt", {}, "Notes and handovers"), el("dd", {}, workLog(a))] : null,
    ];
  }

  // What people did while the alert was open, in order: each with who and when.
  function workLog(a) {
    return el("ol", { class: "work-log" }, a.work.map((w) => el("li", { class: `work-${w.kind}` },
      el("time", { datetime: w.at }, LW.fmtClock(w.at)), " ",
      w.kind === "handover"
        ? [el("strong", {}, w.by === w.to ? `${person(w.by, a)} took it over` : `${person(w.by, a)} handed it to ${person(w.to, a)}`), w.text ? `: ${w.text}` : "",
          w.by === w.to ? null : handoverText(a, w)]
        : [el("strong", {}, person(w.by, a)), `: ${w.text}`])));
  }

  // Whether the colleague was texted that the alert is theirs, as the handover recorded it
  // (`texted`: "requested", or "no_mobile" and the one who handed it over must tell them).
  // A handover recorded before it said so: the text asked for with it (same person, same
  // instant) under "Who has been told", and none read as no mobile on record, as before.
  function handoverText(a, w) {
    const asked = () => Object.values(a.notifications || {}).some((n) => n.step === "handover" && n.contact === w.to && n.requested_at === w.at);
    if (w.texted ? w.texted === "requested" : asked()) return el("div", { class: "counts handover-text" }, mine(w.to) ? "texted to your mobile" : "texted to their mobile");
    if (w.texted && w.texted !== "no_mobile") return null;
    if (mine(w.to)) return el("div", { class: "counts handover-text" }, "not texted: you have no mobile on record");
    const tell = mine(w.by) ? "Tell them yourself." : "They may not know it is theirs.";
    return el("div", { class: "handover-text not-texted" }, `${person(w.to, a)} not texted: no mobile on record. ${tell}`);
  }

  function buttons(a) {
    const found = [];
    if (a.state !== "resolved") {
      found.push(el("button", {
        class: "secondary", type: "button", "aria-expanded": String(openNoteForms.has(a.id)),
        onclick: () => { openNoteForms.add(a.id); render(); document.getElementById(`note-${a.id}`)?.focus(); },
      }, "Add note…", el("span", { class: "visually-hidden" }, ` to alert ${a.short_code}`)));
    }
    if (a.state === "acknowledged") {
      found.push(el("button", {
        class: "secondary", type: "button", "aria-expanded": String(openHandoverForms.has(a.id)),
        onclick: async () => { await loadColleagues(); openHandoverForms.add(a.id); render(); document.getElementById(`handover-${a.id}`)?.focus(); },
      }, "Hand over…", el("span", { class: "visually-hidden" }, ` alert ${a.short_code}`)));
    }
    return found;
  }

  // The forms open on this card, and a stamp that changes when one opens or closes.
  function forms(a) {
    return [openNoteForms.has(a.id) ? noteForm(a) : null, openHandoverForms.has(a.id) ? handoverForm(a) : null].filter(Boolean);
  }
  const stamp = (a) => `${openNoteForms.has(a.id)}|${openHandoverForms.has(a.id)}`;

  async function loadColleagues() {
    if (colleagues !== null) return;
    try { colleagues = (await api("/api/v1/colleagues")).colleagues; } catch (e) { colleagues = []; LW.announce(e.message); }
  }

  // A small form on the card: posts `body()` to the alert's `path`, shows a refusal in words.
  function cardForm(a, { label, path, fields, submit, body, done, openSet }) {
    const error = el("p", { class: "form-error", role: "alert" });
    const form = el("form", { class: "resolve-form work-form", "aria-label": `${label} ${a.short_code}` }, fields, error,
      el("div", { class: "actions" },
        el("button", { class: "primary", type: "submit" }, submit),
        el("button", { class: "secondary", type: "button", onclick: () => { openSet.delete(a.id); render(); } }, "Cancel")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const sent = body(new FormData(form));
      if (typeof sent === "string") { error.textContent = sent; return; }
      form.querySelector("button[type=submit]").disabled = true;
      try {
        const doc = await api(`/api/v1/alerts/${a.id}/${path}`, { method: "POST", body: sent });
        openSet.delete(a.id);
        form.reset();
        upsert(doc);
        LW.announce(doc.handover ? `${done} ${doc.handover.said}` : done);
      } catch (e) {
        error.textContent = e.message;
        form.querySelector("button[type=submit]").disabled = false;
      }
    });
    return form;
  }

  function noteForm(a) {
    return cardForm(a, {
      label: "Add a note to alert", path: "notes", submit: "Add note", openSet: openNoteForms,
      done: `Note added to alert ${a.short_code}.`,
      fields: el("label", { class: "block" }, "Note (kept in the record, seen by everyone on the feed)",
        el("textarea", { name: "text", id: `note-${a.id}`, rows: "2", required: true, maxlength: "2000", placeholder: "e.g. Rang the home, no answer" })),
      body: (data) => {
        const text = String(data.get("text") || "").trim();
        return text ? { text } : "Write the note first.";
      },
    });
  }

  function handoverForm(a) {
    const mine = LW.session && LW.session.actor;
    const choices = (colleagues || []).filter((c) => c.actor !== (a.handed_to || a.acknowledged_by) && (!c.school || c.school === a.school));
    return cardForm(a, {
      label: "Hand over alert", path: "handover", submit: "Hand over", openSet: openHandoverForms,
      done: `Alert ${a.short_code} handed over.`,
      fields: [
        el("label", { class: "block" }, "Hand it to",
          el("select", { name: "to", id: `handover-${a.id}`, required: true },
            el("option", { value: "" }, choices.length ? "Choose a colleague" : "Nobody else can take it"),
            choices.map((c) => el("option", { value: c.username }, c.actor === mine ? `${c.named} — me, taking it over` : c.named)))),
        el("label", { class: "block" }, "Where things stand (kept in the record)",
          el("textarea", { name: "note", rows: "2", maxlength: "2000", placeholder: "e.g. Police called 21:40, ref 1234; waiting for a call back" })),
      ],
      body: (data) => {
        const to = String(data.get("to") || "");
        return to ? { to, note: String(data.get("note") || "").trim() } : "Choose who takes it over.";
      },
    });
  }

  return { connect, person, facts, buttons, forms, stamp };
})();
