// The audit trail, for an admin: every viewing of a record, every sign-in and sign-out.
"use strict";

(() => {
  const { el, api } = LW;
  const ACTION = {
    timeline: "Viewed timeline", state_as_of: "Viewed state as of a time", export_html: "Exported (printable)",
    export_json: "Exported (JSON)", replay_cli: "Replayed on the command line", signed_in: "Signed in", signed_out: "Signed out",
    visit: "Read a visit", alert: "Read an alert", list: "Read a list",
    user_invited: "Invited a user", user_role_changed: "Changed a user's role, school or mobile", user_disabled: "Disabled a user",
    user_enabled: "Enabled a user", user_password_link: "Gave a one-time password link", user_password_set: "Chose a password",
  };
  const LIST = {
    "/api/v1/visits": "the visit board", "/api/v1/alerts": "the alert feed", "/api/v1/tasks": "the tasks",
    "/api/v1/alerts/history": "alert history", "/api/v1/visits/history": "visit history",
  };
  function subjectLink(subject) {
    if (!subject) return "—";
    const [kind, key] = subject.split(/:(.*)/s);
    if (kind === "list") return LIST[key] || key;  // a list has no timeline of its own
    if (kind === "user") return el("a", { href: `/console/admin#user-${encodeURIComponent(key)}` }, `user ${key}`);
    return el("a", { href: `/console/timeline?${kind}=${encodeURIComponent(key)}` }, `${kind} ${key.slice(0, 8)}`);
  }
  function detailOf(a) {
    // A sign-in's browser in short; the full user agent recorded, one click away.
    if (!a.client) return a.detail || "";
    return el("details", {}, el("summary", { title: a.detail || "" }, a.client), el("span", { class: "user-agent" }, a.detail || ""));
  }
  LW.start("audit", { live: false }).then(async () => {
    let audit;
    try {
      ({ audit } = await api("/api/v1/audit"));
    } catch (e) {
      LW.refusal(e, "read the audit trail");
      return;
    }
    if (!audit.length) {
      document.getElementById("audit").replaceChildren(el("tr", {}, el("td", { colspan: "6" }, "Nothing recorded yet.")));
      return;
    }
    document.getElementById("audit").replaceChildren(...audit.map((a) => el("tr", {},
      el("td", {}, LW.fmtDate(a.at)),
      el("td", { title: a.actor }, a.who || a.actor),
      el("td", {}, a.school || "all"),
      el("td", {}, ACTION[a.action] || a.action),
      el("td", {}, subjectLink(a.subject)),
      el("td", { class: "counts" }, detailOf(a)))));
  });
})();
