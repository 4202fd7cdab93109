// Before a visit goes out, what its school's policy asks, on the visit board: who may
// authorise, what is still missing before authorising and before signing out (each check
// beside the school's own words), what each visitor confirms for themself, the
// instructions; and the forms to do each of it. The rules are the service's: this shows
// what the API says (`policy` on a visit not yet out) and sends what a person records.
"use strict";

const LWBefore = (() => {
  const { el, api } = LW;
  const built = new Map(); // visit id -> { said, node }: a form being typed survives a re-render
  const CHECK_TITLE = {
    pairs: "Alone or accompanied", parents_informed: "Parents/carers informed",
    safeguarding_trained: "Trained in safeguarding", risk_assessment_signed: "Risk assessment read and signed",
    charged_phone: "A charged mobile phone",
  };

  function missingWords(v) {
    const p = v.policy;
    const step = v.state === "planned" ? p.missing_before_authorisation : p.missing_before_departure;
    const n = step.length;
    if (v.state === "planned") return n ? `${n} thing${n === 1 ? "" : "s"} missing before authorisation` : readyWords(v.authorise);
    return n ? `${n} thing${n === 1 ? "" : "s"} missing before signing out` : "Ready to sign out";
  }

  // Nothing missing: ready for whom? The API's `authorise` for this reader (the rule that
  // refuses an authorisation), so the badge never tells a DSL a weekend visit is theirs.
  // Until that answer is read (a live copy of a new visit), it claims no one.
  function readyWords(a) {
    if (!a) return "Nothing missing before authorisation";
    return a.may_authorise ? "Ready to authorise" : `Ready for ${a.authorised_by_words} to authorise`;
  }

  // Green says "your move": only for whoever may take the next step. A visit ready for
  // someone else to authorise (or not yet known for whom) waits, in a quiet style.
  function badgeClass(v, missing) {
    if (missing) return "badge amber";
    if (v.state === "planned" && !(v.authorise && v.authorise.may_authorise)) return "badge state waiting";
    return "badge state visit-authorised";
  }

  function checkItem(v, c) {
    const words = v.policy.words[c.rule];
    return el("li", { class: `check ${c.met ? "met" : "missing"}`, "data-rule": c.rule },
      el("span", { class: "check-mark", "aria-hidden": "true" }, c.met ? "✓" : "!"),
      el("div", {},
        el("strong", {}, CHECK_TITLE[c.rule] || c.rule, el("span", { class: "visually-hidden" }, c.met ? ": done" : ": missing")),
        el("div", {}, c.met ? c.done : `Needed ${c.step === "depart" ? "before signing out" : "before authorising"}: ${c.needed}`),
        !c.met && c.done ? el("div", { class: "counts" }, c.done) : null,
        words ? el("blockquote", { class: "policy-words" }, words) : null));
  }

  // One small form: fields, a submit button, and the refusal (in words) if the API says no.
  function form(v, label, fields, toBody, action, onChange) {
    const error = el("p", { class: "form-error", role: "alert" });
    const button = el("button", { class: "primary", type: "submit" }, label,
      el("span", { class: "visually-hidden" }, ` for the visit of ${(v.staff_names || v.staff).join(" & ")}`));
    const node = el("form", { class: "before-form", "data-action": action }, fields, button, error);
    node.addEventListener("submit", async (event) => {
      event.preventDefault();
      button.disabled = true;
      error.textContent = "";
      try {
        const doc = await api(`/api/v1/visits/${encodeURIComponent(v.id)}/${action}`, { method: "POST", body: toBody(new FormData(node)) });
        LW.announce(`${label}: recorded`);
        onChange(doc); // the visit as recorded: the board's copy may not have caught up yet
      } catch (e) {
        error.textContent = e.message;
        button.disabled = false;
      }
    });
    return node;
  }

  // A step the school's policy does not allow yet: the button is there but cannot be
  // pressed, and says why in words (visible, and its description for a screen reader).
  // A step shown but not pressable, saying why beside it (and as the button's description):
  // who may do it instead (`notYours`, in words), and what the policy still needs.
  function notYet(v, label, when, missing, action, notYours = null) {
    const why = `not-yet-${action}-${v.id}`;
    return el("div", { class: "before-form not-yet", "data-action": action },
      el("button", { class: "primary", type: "button", disabled: true, "aria-describedby": why }, label,
        el("span", { class: "visually-hidden" }, ` for the visit of ${(v.staff_names || v.staff).join(" & ")}`)),
      el("div", { id: why, class: "not-yet-why" },
        notYours ? el("p", { class: "not-yours" }, notYours) : null,
        missing.length ? [
          el("p", {}, `Not yet: the school's policy still needs, ${when}:`),
          // Each item ends with its stop, so the description read aloud keeps them apart.
          el("ul", {}, missing.map((needed, i) => el("li", {}, `${needed}${i < missing.length - 1 ? ";" : "."}`))),
        ] : null));
  }

  // Who may authorise, for this reader: the API's `authorise` (the rule that refuses an
  // authorisation: outside school hours only the headteacher), in words; null when they may.
  function notYoursWords(a) {
    if (a.may_authorise) return null;
    const because = a.headteacher_because ? `: ${a.headteacher_because}` : "";
    return `Not yours to authorise: only ${a.authorised_by_words} can authorise this visit${because}.`;
  }

  function field(id, label, attrs = {}) {
    return el("div", { class: "field" }, el("label", { for: id }, label),
      el("input", { type: "text", id, name: attrs.name || id, autocomplete: "off", ...attrs }));
  }
  function choices(name, legend, options) {
    return el("fieldset", { class: "choices" }, el("legend", {}, legend),
      options.map(([value, label]) => el("label", { class: "choice" },
        el("input", { type: "radio", name, value, required: true }), label)));
  }

  function forms(v, onChange) {
    const p = v.policy;
    const me = LW.session || {};
    const out = [];
    const id = (name) => `${name}-${v.id}`;
    if (v.state === "planned" && (p.pairs === "decided" || p.pairs === "where_possible")) {
      const decideBy = p.pairs === "decided" ? ` (recorded by ${p.decided_by_words || p.decided_by.join(", ")})` : "";
      // Recorded already: the form is there to change it, and says so.
      out.push(form(v, p.decision ? "Change the decision" : "Record the decision", [
        choices("decision", `Single member of staff or an additional person?${decideBy}`,
          [["single", "Single member of staff"], ["pair", "An additional person is required"]]),
        field(id("reason"), "Why (kept in the record)", { name: "reason", required: true }),
      ], (d) => ({ decision: d.get("decision"), reason: d.get("reason") }), "decide", onChange));
    }
    if (v.state === "planned" && p.outside_companion && v.staff.length < 2) {
      out.push(form(v, "Name the companion", [
        field(id("companion-name"), "Companion's name", { name: "name", required: true }),
        field(id("companion-org"), "Their agency", { name: "organisation", required: true }),
        field(id("companion-phone"), "Their mobile (optional)", { name: "phone", inputmode: "tel" }),
      ], (d) => ({ name: d.get("name"), organisation: d.get("organisation"), phone: d.get("phone") || null }), "companion", onChange));
    }
    if (p.parents_informed !== "off" && !p.parents) {
      const options = [["yes", "Parents/carers informed"]];
      if (p.parents_informed === "where_possible") options.push(["no", "Not informed (an exception)"]);
      out.push(form(v, "Record parents/carers", [
        choices("informed", "Were parents/carers informed of the visit before arrival?", options),
        field(id("parents-note"), "How they were told, or why not", { name: "note" }),
      ], (d) => ({ informed: d.get("informed") === "yes", note: d.get("note") }), "parents", onChange));
    }
    if (v.staff.includes(me.username)) {
      for (const c of p.confirm) {
        const done = (p.confirmed[c.what] || {})[me.username];
        if (done || (c.step === "authorise" && v.state !== "planned")) continue;
        out.push(form(v, "I confirm", [el("p", { class: "statement" }, `“${c.statement}”`)],
          () => ({ what: c.what }), "confirm", onChange));
      }
    }
    // Offered to those the policy names and to whoever the service says may (the headteacher
    // out of hours); pressable only when the service says this reader may and nothing is
    // missing. Until the reader's answer is known (a live copy of a new visit), not offered.
    const a = v.authorise;
    const lead = me.school === v.school && p.authorised_by.includes(me.role);
    if (v.state === "planned" && a && (lead || a.may_authorise)) {
      const missing = p.missing_before_authorisation; // the service's readiness rule, as said
      const notYours = notYoursWords(a);
      out.push(missing.length || notYours
        ? notYet(v, "Authorise the visit", "before authorising", missing, "authorise", notYours)
        : form(v, "Authorise the visit", [], () => ({}), "authorise", onChange));
    }
    return out;
  }

  function build(v, onChange) {
    const p = v.policy;
    const missing = (v.state === "planned" ? p.missing_before_authorisation : p.missing_before_departure).length;
    return el("details", { class: `before${missing ? " has-missing" : ""}`, id: `before-${v.id}` },
      el("summary", {}, el("span", { class: badgeClass(v, missing) }, missingWords(v))),
      el("p", {}, el("strong", {}, "Who may authorise: "), (v.authorise || p).authorised_by_words,
        p.words.authorised_by ? el("blockquote", { class: "policy-words" }, p.words.authorised_by) : null),
      p.checks.length ? el("ul", { class: "checks" }, p.checks.map((c) => checkItem(v, c)))
        : el("p", { class: "counts" }, "The school's policy asks nothing more of this visit."),
      p.instructions.length ? el("div", { class: "instructions" }, el("strong", {}, "On the visit: "),
        p.instructions.map((text) => el("p", {}, text))) : null,
      forms(v, onChange));
  }

  // The policy panel of a visit not yet out, built again only when what it shows changed
  // (an open panel stays open).
  function panel(v, onChange) {
    if (!v.policy) return el("span", { class: "counts" }, "—");
    const said = JSON.stringify([v.state, v.policy, v.authorise]);
    const known = built.get(v.id);
    if (known && known.said === said) return known.node;
    const node = build(v, onChange);
    if (known && known.node.open) node.open = true;
    built.set(v.id, { said, node });
    return node;
  }

  return { panel };
})();
