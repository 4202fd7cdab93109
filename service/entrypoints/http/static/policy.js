// The policy sheet: each school's home-visit rules as Lonewatch enforces them, beside the
// policy's own words, so a headteacher can check the configuration against their policy.
"use strict";

(() => {
  const { el, api } = LW;

  function rule(school, r) {
    const id = `rule-${school}-${r.rule}`;
    return el("section", { class: `policy-rule${r.on ? "" : " off"}`, "data-rule": r.rule, "aria-labelledby": id },
      el("h4", { id }, r.title),
      el("div", {}, el("span", { class: "label" }, "Lonewatch enforces"), r.enforced),
      el("div", {}, el("span", { class: "label" }, "Your policy's words"),
        r.words ? el("blockquote", { class: "policy-words" }, r.words)
          : el("span", { class: "counts" }, r.on ? `None given: add them to the directory as words: ${r.rule}` : "—")));
  }

  // Before the visit (authorising, companions, confirmations), then at the property.
  const GROUPS = [["before", "Before the visit"], ["at_the_property", "At the property"]];

  function sheet(s) {
    return el("article", { class: "policy-sheet", id: `policy-${s.school}`, "aria-labelledby": `school-${s.school}` },
      el("h2", { id: `school-${s.school}` }, s.name || s.school),
      GROUPS.map(([when, title]) => {
        const id = `group-${s.school}-${when}`;
        return el("section", { class: "policy-group", "data-when": when, "aria-labelledby": id },
          el("h3", { id }, title),
          s.rules.filter((r) => (r.when || "before") === when).map((r) => rule(s.school, r)));
      }));
  }

  LW.start("policy", { live: false }).then(async () => {
    try {
      const found = await api("/api/v1/policy");
      document.getElementById("sheets").replaceChildren(...found.schools.map(sheet));
    } catch (e) {
      LW.refusal(e, "read the policy sheet");
    }
  });
})();
