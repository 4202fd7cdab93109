// "Plan a visit" on the visit board: the same request as POST /api/v1/visits, with the risk
// assessment the policies' appendix asks for. Shown only to those GET /api/v1/staff answers
// (the planners of a school); what POST refuses is shown beside the form in the API's words.
// Times are typed in the school's own clock and sent as instants with that zone's offset.
"use strict";

(() => {
  const { el, api } = LW;
  const PURPOSES = [
    ["safe_and_well", "Safe and well check"], ["attendance", "Attendance"],
    ["procedural", "Procedural"], ["work_drop_off_or_collect", "Dropping off or collecting work"],
    ["transition", "Transition"], ["transport_pupil", "Transporting a pupil"],
    ["relationship_building", "Relationship building"], ["other", "Other"],
  ];
  const HAZARDS = [
    ["aggressive_person", "Aggressive person"], ["animals", "Animals"], ["driving", "Driving"],
    ["public_areas", "Public areas"], ["illness_or_injury", "Illness or injury"],
  ];
  const TRANSPORT = ["transporting_pupil", "Transporting the pupil"]; // needed for that purpose
  const LIKELIHOOD = ["remote", "possible", "likely"];
  const SEVERITY = ["minor", "serious", "major"];
  const RISK = ["low", "medium", "high"];

  // The offset (minutes east of UTC) the zone has at an instant.
  function offsetAt(zone, ms) {
    const p = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
    return (Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - ms) / 60000;
  }
  // "2026-12-08T11:30" on the school's wall clock as ISO 8601 with the zone's offset then.
  function isoIn(zone, wall) {
    const guess = new Date(`${wall}:00Z`).getTime();
    const offset = offsetAt(zone, guess - offsetAt(zone, guess) * 60000);
    const sign = offset < 0 ? "-" : "+";
    const abs = Math.abs(offset);
    return `${wall}:00${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
  }

  const field = (id, label, control, hint) => el("div", { class: "plan-field" },
    el("label", { for: id }, label), hint ? el("small", { class: "counts", id: `${id}-hint` }, hint) : null, control);
  const choose = (id, name, options, attrs = {}) => el("select", { id, name, required: true, ...attrs },
    el("option", { value: "" }, "Choose…"), options.map(([value, words]) => el("option", { value }, words)));
  const plain = (values) => values.map((v) => [v, v]);

  function hazardRow([hazard, words]) {
    const id = `plan-${hazard}`;
    return el("fieldset", { class: "plan-hazard", "data-hazard": hazard },
      el("legend", {}, words),
      field(`${id}-likelihood`, "Likelihood", choose(`${id}-likelihood`, "likelihood", plain(LIKELIHOOD))),
      field(`${id}-severity`, "Severity", choose(`${id}-severity`, "severity", plain(SEVERITY))),
      field(`${id}-risk`, "Risk", choose(`${id}-risk`, "risk", plain(RISK))),
      field(`${id}-controls`, "Controls (one a line)",
        el("textarea", { id: `${id}-controls`, name: "controls", rows: 2, required: true })));
  }

  function build({ schools, staff }, session) {
    const byId = new Map(schools.map((s) => [s.id, s]));
    const school = choose("plan-school", "school", schools.map((s) => [s.id, s.name]));
    if (schools.length === 1) school.value = schools[0].id;
    const visitor = el("select", { id: "plan-staff", name: "staff", required: true });
    const second = el("select", { id: "plan-staff2", name: "staff2" });
    const zoneWords = el("span", {});
    function staffFor() {
      const mine = staff.filter((s) => s.school === school.value);
      visitor.replaceChildren(el("option", { value: "" }, "Choose…"), ...mine.map((s) => el("option", { value: s.id }, s.name)));
      second.replaceChildren(el("option", { value: "" }, "Nobody: a lone visit"), ...mine.map((s) => el("option", { value: s.id }, s.name)));
      const me = session.role === "staff" ? session.username : null;
      if (me && mine.some((s) => s.id === me)) visitor.value = me; // staff plan their own visits
      const zone = byId.has(school.value) ? byId.get(school.value).timezone : "";
      zoneWords.textContent = zone ? ` (${zone} time)` : "";
    }
    school.addEventListener("change", staffFor);
    staffFor();
    const purpose = choose("plan-purpose", "purpose", PURPOSES);
    const transport = hazardRow(TRANSPORT);
    transport.hidden = true;
    transport.disabled = true;
    purpose.addEventListener("change", () => {
      transport.hidden = transport.disabled = purpose.value !== "transport_pupil";
    });
    const error = el("p", { class: "form-error", id: "plan-error", role: "alert" });
    const notice = el("p", { class: "form-notice", id: "plan-notice", role: "status" });
    const text = (id, label, hint) => field(id, label, el("input", {
      id, name: id.slice(5), type: "text", required: true, autocomplete: "off",
      "aria-describedby": hint ? `${id}-hint` : null }), hint);
    const when = (id, label) => field(id, label, el("input", { id, name: id.slice(5), type: "datetime-local", required: true }));
    const form = el("form", { class: "plan-form", id: "plan-form", "aria-labelledby": "plan-heading" },
      el("fieldset", { class: "plan-who" }, el("legend", {}, "Who and where"),
        schools.length > 1 ? field("plan-school", "School", school) : null,
        field("plan-staff", "Visitor", visitor),
        field("plan-staff2", "Second visitor (for a pair)", second),
        text("plan-pupil", "Pupil reference", "the pupil's reference, like UPN-0042 — never a name"),
        text("plan-address", "Address"),
        field("plan-purpose", "Purpose", purpose)),
      el("fieldset", { class: "plan-when" }, el("legend", {}, "When", zoneWords),
        when("plan-start", "Planned start"),
        when("plan-leave", "Expected to leave the property"),
        when("plan-return", "Expected back")),
      el("fieldset", { class: "plan-risk" }, el("legend", {}, "Risk assessment"),
        HAZARDS.map(hazardRow), transport),
      el("div", { class: "plan-actions" }, el("button", { class: "primary", type: "submit" }, "Plan the visit")),
      error, notice);

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      notice.textContent = "";
      const chosen = school.value;
      const zone = (byId.get(chosen) || {}).timezone || session.timezone || "UTC";
      const value = (id) => form.querySelector(`#${id}`).value;
      const hazards = [...form.querySelectorAll(".plan-hazard:not([disabled])")].map((set) => ({
        hazard: set.dataset.hazard,
        likelihood: set.querySelector("[name=likelihood]").value,
        severity: set.querySelector("[name=severity]").value,
        risk: set.querySelector("[name=risk]").value,
        controls: set.querySelector("[name=controls]").value.split("\n").map((c) => c.trim()).filter(Boolean),
      }));
      const body = {
        school: chosen,
        staff: second.value && second.value !== visitor.value ? [visitor.value, second.value] : visitor.value,
        pupil_ref: value("plan-pupil").trim(),
        address: value("plan-address").trim(),
        purpose: purpose.value,
        planned_start: isoIn(zone, value("plan-start")),
        expected_leave: isoIn(zone, value("plan-leave")),
        expected_return: isoIn(zone, value("plan-return")),
        hazards,
      };
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const visit = await api("/api/v1/visits", { method: "POST", body });
        const names = new Map(staff.map((s) => [s.id, s.name]));
        notice.textContent = `Planned: ${visit.staff.map((id) => names.get(id) || id).join(" & ")} to ${visit.address}. `
          + "A visit today is listed under “Still to go out today”, with what the school's policy still needs.";
        document.dispatchEvent(new CustomEvent("lw:visit-planned", { detail: visit }));
        LW.announce("Visit planned");
      } catch (e) {
        error.textContent = `The visit was not planned: ${e.message}`;
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  Promise.all([api("/api/v1/staff"), api("/api/v1/session")]).then(([found, session]) => {
    if (!found.schools.length) return;
    const section = document.getElementById("plan-section");
    section.append(build(found, session));
    section.hidden = false;
  }).catch(() => {}); // not a planner (403): the form stays hidden
})();
