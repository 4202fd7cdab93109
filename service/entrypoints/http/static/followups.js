// The visit board's follow-up actions (open until someone marks them done) and the forms to
// record what happened at the property: a decision under a policy rule, an early end, an
// incident, a follow-up. Loaded by visits.html beside
// visits.js; it waits for visits.js to have signed in (LW.session) and reads the API itself.
"use strict";

(() => {
  const { el, api } = LW;
  const KINDS = [["injury", "Injury"], ["accusation", "Accusation against the visitor"], ["threat", "Threat"]];
  let session = null;
  let visits = [];

  const today = () => new Intl.DateTimeFormat("en-CA", { timeZone: (session && session.timezone) || "Europe/London" }).format(new Date());
  const visitLabel = (v) => `${(v.staff_names || v.staff || []).join(" & ")} — ${v.ref} (${v.state})`;
  const isLeader = () => session && session.may && session.may.export;
  // Reception records incidents phoned in; follow-ups are for the leads and the visitors.
  const seesFollowups = () => session && session.role !== "operator";

  function message(box, text, isError) {
    box.replaceChildren(el("p", { class: isError ? "form-error" : "taken", role: isError ? "alert" : "status" }, text));
  }

  function doneForm(f) {
    const note = el("input", { type: "text", name: "note", "aria-label": `What was done (follow-up ${f.number} of visit ${f.ref})` });
    const out = el("div", { "aria-live": "polite" });
    const form = el("form", { class: "task-actions", onsubmit: async (e) => {
      e.preventDefault();
      form.querySelector("button").disabled = true;
      try {
        await api(`/api/v1/followups/${encodeURIComponent(f.id)}/done`, { method: "POST", body: { note: note.value } });
        LW.announce(`Follow-up done: ${f.notes}`);
        await load();
      } catch (error) {
        form.querySelector("button").disabled = false;
        message(out, `Not marked done: ${error.message}`, true);
      }
    } }, note, el("button", { class: "secondary", type: "submit" }, "Done"), out);
    return form;
  }

  function render(list) {
    const box = document.getElementById("followups");
    const section = document.getElementById("followups-section");
    section.hidden = false;
    if (!list.length) {
      box.replaceChildren(el("p", { class: "counts" }, "No follow-up actions open."));
      return;
    }
    const now = today();
    const rows = list.map((f) => el("tr", { id: `followup-${f.number}-${f.visit}`, class: f.due < now ? "late" : null },
      el("th", { scope: "row", "data-label": "Due" }, f.due, f.due < now ? el("span", { class: "badge red" }, "Overdue") : null),
      el("td", { "data-label": "Action" }, f.notes),
      el("td", { "data-label": "For" }, f.assignee_name || f.assignee),
      el("td", { "data-label": "Visit" }, el("a", { href: `/console/timeline?visit=${f.visit}` }, `${(f.staff_names || []).join(" & ")} · ${f.ref}`),
        isLeader() ? el("div", {}, el("a", { class: "button small secondary", href: `/api/v1/visits/${f.visit}/cpoms.csv` }, "CSV for CPOMS")) : null),
      el("td", { "data-label": "Mark done" }, doneForm(f))));
    box.replaceChildren(el("div", { class: "table-wrap" }, el("table", { class: "data board" },
      el("caption", { class: "visually-hidden" }, "Follow-up actions still open, soonest due first"),
      el("thead", {}, el("tr", {}, ["Due", "Action", "For", "Visit", "Mark done"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows))));
  }

  function visitSelect(name, label) {
    return el("label", { class: "block" }, label,
      el("select", { name, required: true },
        el("option", { value: "" }, "Choose a visit"),
        visits.map((v) => el("option", { value: v.id }, visitLabel(v)))));
  }

  function incidentForm() {
    const out = el("div", { "aria-live": "polite" });
    const form = el("form", { class: "filters", "aria-labelledby": "incident-heading", onsubmit: async (e) => {
      e.preventDefault();
      const data = new FormData(form);
      try {
        const visit = await api(`/api/v1/visits/${data.get("visit")}/incidents`, { method: "POST",
          body: { kind: data.get("kind"), what: data.get("what") } });
        const incident = visit.incidents[visit.incidents.length - 1];
        out.replaceChildren(el("div", { role: "status" },
          el("p", { class: "taken" }, `Incident ${incident.number} recorded; the headteacher has been texted.`),
          el("p", {}, "The policy asks next:"),
          el("ul", {}, incident.prompts.map((p) => el("li", {}, p))),
          el("p", {}, el("a", { href: `/console/timeline?visit=${visit.id}` }, "Open the visit's record (replay)"))));
        form.reset();
        await load();
      } catch (error) {
        message(out, `Not recorded: ${error.message}`, true);
      }
    } },
    el("div", { class: "filter-grid" },
      visitSelect("visit", "Visit"),
      el("label", { class: "block" }, "What kind", el("select", { name: "kind", required: true },
        KINDS.map(([value, label]) => el("option", { value }, label))))),
    el("label", { class: "block" }, "What happened (for the headteacher and DSL)",
      el("textarea", { name: "what", rows: "3", required: true })),
    el("div", { class: "toolbar" }, el("button", { class: "primary", type: "submit" }, "Record the incident")),
    out);
    return form;
  }

  function followupForm() {
    const out = el("div", { "aria-live": "polite" });
    const form = el("form", { class: "filters", "aria-labelledby": "log-heading", onsubmit: async (e) => {
      e.preventDefault();
      const data = new FormData(form);
      try {
        await api(`/api/v1/visits/${data.get("visit")}/followups`, { method: "POST",
          body: { action: data.get("action"), assignee: data.get("assignee"), due: data.get("due") } });
        message(out, "Follow-up logged.", false);
        form.reset();
        await load();
      } catch (error) {
        message(out, `Not logged: ${error.message}`, true);
      }
    } },
    el("div", { class: "filter-grid" },
      visitSelect("visit", "Visit"),
      el("label", { class: "block" }, "For (staff id or user)", el("input", { type: "text", name: "assignee", required: true, value: session.username })),
      el("label", { class: "block" }, "Due", el("input", { type: "date", name: "due", required: true, min: today(), value: today() }))),
    el("label", { class: "block" }, "Action", el("textarea", { name: "action", rows: "2", required: true })),
    el("div", { class: "toolbar" }, el("button", { class: "primary", type: "submit" }, "Log the follow-up")),
    out);
    return form;
  }

  const CHOICES = {
    did_not_enter: "Did not enter", left: "Left the property", returned_to_school: "Returned to school",
    entered_with_controls: "Entered, with every control", did_not_go_upstairs: "Did not go upstairs",
    went_upstairs_accompanied: "Went upstairs, accompanied by a responsible adult",
    agreed_not_to_smoke: "The adult agreed not to smoke", animals_kept_separate: "Animals kept in a separate room",
    refused_left: "The adult refused: left",
  };

  // A decision at the property under one of the policies' rules (read from the API, in the
  // policies' words), or the visit ended early with its reason.
  function decisionForm(rules) {
    const out = el("div", { "aria-live": "polite" });
    const words = el("p", { class: "hint", id: "rule-words" });
    const choice = el("select", { name: "choice", required: true });
    const controls = el("fieldset", { class: "what", hidden: true },
      el("legend", {}, "Controls confirmed (a bedroom)"),
      ...Object.entries(rules.controls).map(([value, label]) => el("label", { class: "choice" },
        el("input", { type: "checkbox", name: "controls", value }), label)));
    const rule = el("select", { name: "rule", required: true, "aria-describedby": "rule-words", onchange: () => {
      const found = rules.rules.find((r) => r.rule === rule.value);
      words.textContent = found ? `The policy: "${found.words}"` : "";
      choice.replaceChildren(...(found ? found.choices : []).map((c) =>
        el("option", { value: c }, CHOICES[c] || c, found.ends_visit.includes(c) ? " (ends the visit)" : "")));
      controls.hidden = !found || found.rule !== "bedroom";
    } }, el("option", { value: "" }, "Choose a rule"),
    ...rules.rules.map((r) => el("option", { value: r.rule }, r.rule.replaceAll("_", " "))));
    const form = el("form", { class: "filters", "aria-labelledby": "decision-heading", onsubmit: async (e) => {
      e.preventDefault();
      const data = new FormData(form);
      try {
        const visit = await api(`/api/v1/visits/${data.get("visit")}/decisions`, { method: "POST",
          body: { rule: data.get("rule"), choice: data.get("choice"), why: data.get("why"), controls: data.getAll("controls") } });
        message(out, visit.ended_early ? `Decision recorded; the visit ended early (${visit.ended_early.words}).` : "Decision recorded.", false);
        form.reset();
        rule.dispatchEvent(new Event("change"));
      } catch (error) {
        message(out, `Not recorded: ${error.message}`, true);
      }
    } },
    el("div", { class: "filter-grid" },
      visitSelect("visit", "Visit"),
      el("label", { class: "block" }, "Rule", rule),
      el("label", { class: "block" }, "What the visitor did", choice)),
    words, controls,
    el("label", { class: "block" }, "Why (what was seen or said)", el("textarea", { name: "why", rows: "2", required: true })),
    el("div", { class: "toolbar" }, el("button", { class: "primary", type: "submit" }, "Record the decision")),
    out);
    return form;
  }

  function endEarlyForm() {
    const out = el("div", { "aria-live": "polite" });
    const form = el("form", { class: "filters", "aria-labelledby": "end-heading", onsubmit: async (e) => {
      e.preventDefault();
      const data = new FormData(form);
      try {
        await api(`/api/v1/visits/${data.get("visit")}/end_early`, { method: "POST", body: { reason: data.get("reason") } });
        message(out, "The visit is recorded as ended early.", false);
        form.reset();
        await load();
      } catch (error) {
        message(out, `Not recorded: ${error.message}`, true);
      }
    } },
    el("div", { class: "filter-grid" }, visitSelect("visit", "Visit"),
      el("label", { class: "block" }, "Why it ended", el("input", { type: "text", name: "reason", required: true }))),
    el("div", { class: "toolbar" }, el("button", { class: "primary", type: "submit" }, "End the visit early")),
    out);
    return form;
  }

  async function load() {
    const [open, out, day] = await Promise.all([
      seesFollowups() ? api("/api/v1/followups?state=open") : Promise.resolve(null),
      api("/api/v1/visits?state=out"),
      api(`/api/v1/visits?date=${today()}`),
    ]);
    const byId = new Map([...day.visits, ...out.visits].map((v) => [v.id, v]));
    visits = [...byId.values()].filter((v) => !["planned", "authorised", "cancelled"].includes(v.state));
    if (open) render(open.followups);
    for (const select of document.querySelectorAll("#visit-records select[name=visit]")) {
      const chosen = select.value;
      select.replaceChildren(el("option", { value: "" }, "Choose a visit"),
        ...visits.map((v) => el("option", { value: v.id, selected: v.id === chosen }, visitLabel(v))));
    }
  }

  async function begin() {
    session = LW.session;
    await load();
    const forms = document.getElementById("visit-records");
    forms.hidden = false;
    const rules = await api("/api/v1/visits/rules");
    forms.replaceChildren(
      el("h2", { id: "decision-heading" }, "Record a decision at the property"), decisionForm(rules),
      el("h2", { id: "end-heading" }, "End a visit early"), endEarlyForm(),
      el("h2", { id: "incident-heading" }, "Record an incident"), incidentForm(),
      ...(seesFollowups() ? [el("h2", { id: "log-heading" }, "Log a follow-up action"), followupForm()] : []));
    await load();
    setInterval(() => load().catch(() => {}), 30000);
  }

  (function wait() {
    if (LW.session) begin().catch((error) => LW.refusal(error, "show the follow-up actions"));
    else setTimeout(wait, 50);
  })();
})();
