// The audit trail, for an admin: every viewing of a record, every sign-in and sign-out.
"use strict";

(() => {
  const { el, api } = LW;
  const ACTION = {
    timeline: "Viewed timeline", state_as_of: "Viewed state as of a time", export_html: "Exported (printable)",
    export_json: "Exported (JSON)", replay_cli: "Replayed on the command line", signed_in: "Signed in", signed_out: "Signed out",
  };
  function subjectLink(subject) {
    if (!subject) return "—";
    const [kind, key] = subject.split(/:(.*)/s);
    return el("a", { href: `/console/timeline?${kind}=${encodeURIComponent(key)}` }, `${kind} ${key.slice(0, 8)}`);
  }
  LW.start("audit").then(async () => {
    const { audit } = await api("/api/v1/audit");
    document.getElementById("audit").replaceChildren(...audit.map((a) => el("tr", {},
      el("td", {}, LW.fmtDate(a.at)),
      el("td", {}, a.actor),
      el("td", {}, a.school || "all"),
      el("td", {}, ACTION[a.action] || a.action),
      el("td", {}, subjectLink(a.subject)),
      el("td", { class: "counts" }, a.detail || ""))));
  });
})();
