// Users, for an admin: invite (a one-time link to choose a password), change a role,
// give a mobile (a handover is texted to it), reset a password, disable and enable. Every answer is the server's; refusals in words.
"use strict";

(() => {
  const { el, api } = LW;
  const ROLE = { staff: "Staff", operator: "Contact centre", dsl: "DSL", headteacher: "Headteacher", slt: "SLT", admin: "Admin" };
  let data = { users: [], schools: [], roles: [] };
  let open = null; // [username, "role" | "phone" | "reset" | "disable"]: the one row form open

  const schoolName = (id) => (id ? (data.schools.find((s) => s.id === id) || { name: id }).name : "Every school");
  function status(u) {
    if (u.disabled) return ["Disabled", "bad"];
    if (u.link_pending) return [u.has_password ? "Reset link not used yet" : "Invited — link not used yet", "pending"];
    if (!u.has_password) return ["No password yet", "pending"];
    return ["Active", "ok"];
  }
  function roleOptions(select, chosen) {
    select.replaceChildren(...data.roles.map((r) => el("option", { value: r, selected: r === chosen }, ROLE[r] || r)));
  }
  function schoolOptions(select, chosen) {
    select.replaceChildren(el("option", { value: "" }, "Every school (admins only)"),
      ...data.schools.map((s) => el("option", { value: s.id, selected: s.id === chosen }, s.name)));
  }

  // The one-time link, shown once: the admin passes it on (it is never shown again).
  function showLink(answer, what) {
    const url = new URL(answer.link, location.origin).href;
    const box = document.getElementById("link");
    const field = el("input", { type: "text", readonly: true, value: url, id: "link-url", "aria-label": `One-time link for ${answer.username}` });
    box.replaceChildren(
      el("p", {}, el("strong", {}, what), ` Give ${answer.username} this link; it works once, until ${LW.fmtDate(answer.expires_at)}. It is not shown again.`),
      el("div", { class: "link-row" }, field,
        el("button", { class: "secondary", type: "button", onclick: async (e) => {
          field.select();
          try { await navigator.clipboard.writeText(url); e.currentTarget.textContent = "Copied"; } catch (err) { document.execCommand("copy"); }
        } }, "Copy link")));
    box.hidden = false;
    box.focus();
  }

  function rowForm(u) {
    const [, kind] = open;
    const error = el("p", { class: "form-error", role: "alert" });
    const cancel = el("button", { class: "secondary", type: "button", onclick: () => { open = null; render(); } }, "Cancel");
    let fields, submit, send;
    if (kind === "role") {
      const role = el("select", { name: "role", id: `role-${u.username}` });
      const school = el("select", { name: "school", id: `school-${u.username}` });
      roleOptions(role, u.role); schoolOptions(school, u.school);
      fields = [el("label", { class: "block inline" }, "Role", role), el("label", { class: "block inline" }, "School", school)];
      submit = "Save role";
      send = () => api(`/api/v1/users/${encodeURIComponent(u.username)}/role`, { method: "POST", body: { role: role.value, school: school.value || null } })
        .then(() => LW.announce(`${u.username} is now ${ROLE[role.value] || role.value}.`));
    } else if (kind === "phone") {
      // The number is checked by the server (the directory file's rule); its refusal is shown.
      const phone = el("input", { type: "tel", name: "phone", id: `phone-${u.username}`, inputmode: "tel", autocomplete: "off",
        value: u.phone || "", placeholder: "e.g. +447700900001", "aria-describedby": `phone-hint-${u.username}` });
      fields = [el("label", { class: "block" }, `Mobile of ${u.username}`, phone),
        el("p", { class: "counts", id: `phone-hint-${u.username}` }, "International form. An alert handed to them is texted to it. Leave it empty for none.")];
      submit = "Save mobile";
      send = () => api(`/api/v1/users/${encodeURIComponent(u.username)}/phone`, { method: "POST", body: { phone: phone.value.trim() || null } })
        .then((user) => LW.announce(user.phone ? `${u.username}'s mobile is ${user.phone}.` : `${u.username} has no mobile now.`));
    } else if (kind === "reset") {
      fields = [el("p", {}, `This ends ${u.username}'s password and signs them out everywhere now. They choose a new one with a one-time link.`)];
      submit = "Reset password";
      send = () => api(`/api/v1/users/${encodeURIComponent(u.username)}/reset-password`, { method: "POST" })
        .then((answer) => showLink(answer, `Password of ${u.username} reset.`));
    } else {
      const reason = el("input", { type: "text", name: "reason", id: `reason-${u.username}`, maxlength: "500", placeholder: "e.g. left the school" });
      fields = [el("label", { class: "block" }, "Why (kept in the audit trail)", reason)];
      submit = "Disable account";
      send = () => api(`/api/v1/users/${encodeURIComponent(u.username)}/disable`, { method: "POST", body: { reason: reason.value } })
        .then(() => LW.announce(`${u.username} is disabled: their sessions and tokens no longer work.`));
    }
    const form = el("form", { class: "row-form", "aria-label": `${submit}: ${u.username}` }, fields, error,
      el("div", { class: "actions" }, el("button", { class: kind === "role" || kind === "phone" ? "primary" : "danger", type: "submit" }, submit), cancel));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      form.querySelector("button[type=submit]").disabled = true;
      try {
        await send();
        open = null;
        await reload();
      } catch (e) {
        error.textContent = e.message;
        form.querySelector("button[type=submit]").disabled = false;
      }
    });
    return el("tr", { class: "row-form-row" }, el("td", { colspan: "6" }, form));
  }

  function actions(u) {
    const me = LW.session && u.username === LW.session.username;
    const button = (kind, label) => el("button", {
      class: "secondary small", type: "button", "aria-expanded": String(!!open && open[0] === u.username && open[1] === kind),
      onclick: () => { open = [u.username, kind]; render(); document.querySelector(".row-form select, .row-form input, .row-form button")?.focus(); },
    }, label, el("span", { class: "visually-hidden" }, ` for ${u.username}`));
    // Your own mobile is yours to give; your role, password and account another admin's.
    if (me) return el("div", { class: "actions" }, button("phone", "Mobile…"),
      el("span", { class: "counts" }, "You (another admin changes your own account)"));
    return el("div", { class: "actions" },
      button("role", "Change role…"),
      button("phone", "Mobile…"),
      u.disabled ? null : button("reset", "Reset password…"),
      u.disabled
        ? el("button", { class: "secondary small", type: "button", onclick: (e) => enable(u, e.currentTarget) }, "Enable",
          el("span", { class: "visually-hidden" }, ` ${u.username}`))
        : button("disable", "Disable…"));
  }

  async function enable(u, button) {
    button.disabled = true;
    try {
      await api(`/api/v1/users/${encodeURIComponent(u.username)}/enable`, { method: "POST" });
      LW.announce(`${u.username} is enabled again.`);
      await reload();
    } catch (e) { LW.announce(e.message); button.disabled = false; }
  }

  function render() {
    const rows = [];
    for (const u of data.users) {
      const [words, tone] = status(u);
      rows.push(el("tr", { id: `user-${u.username}`, class: u.disabled ? "disabled" : null },
        el("th", { scope: "row" }, u.username, u.in_directory ? el("div", { class: "counts" }, "in the directory file") : null),
        el("td", {}, ROLE[u.role] || u.role),
        el("td", {}, schoolName(u.school)),
        el("td", {}, u.phone || el("span", { class: "counts" }, "None")),
        el("td", {}, el("span", { class: `delivery ${tone}` }, words)),
        el("td", {}, actions(u))));
      if (open && open[0] === u.username) rows.push(rowForm(u));
    }
    document.getElementById("users").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "6" }, "No users yet."))]));
  }

  async function reload() {
    data = await api("/api/v1/users");
    render();
  }

  LW.start("admin", { live: false }).then(async (session) => {
    try {
      await reload();
    } catch (e) {
      LW.refusal(e, "manage users");
      document.getElementById("users").replaceChildren(el("tr", {}, el("td", { colspan: "6" }, "Nothing to show.")));
      document.getElementById("invite").hidden = true;
      return;
    }
    const form = document.getElementById("invite");
    // A new user is most often reception or a DSL of a school: the admin's own, else the first.
    const firstSchool = session.school || (data.schools[0] && data.schools[0].id);
    roleOptions(form.elements.role, "operator");
    schoolOptions(form.elements.school, firstSchool);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = document.getElementById("invite-error");
      error.textContent = "";
      try {
        const answer = await api("/api/v1/users", { method: "POST", body: {
          username: form.elements.username.value.trim(), role: form.elements.role.value, school: form.elements.school.value || null,
          phone: form.elements.phone.value.trim() || null,
        } });
        form.reset();
        roleOptions(form.elements.role, "operator");
        schoolOptions(form.elements.school, firstSchool);
        await reload();
        showLink(answer, `${answer.username} invited.`);
      } catch (e) {
        error.textContent = e.message;
      }
    });
  });
})();
