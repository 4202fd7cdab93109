// The live alert feed: open alerts first, red before amber, oldest first.
"use strict";

(() => {
  const { el, api } = LW;
  const alerts = new Map();
  const KIND = {
    sos: "SOS", concern: "Concern raised by the visitor", fall: "Fall detected", duress: "Duress (safe word)", overdue: "Overdue visit",
    device_offline: "Device offline", low_battery: "Low battery", notification_failed: "Notification failed",
    arc_unreachable: "Alarm centre (ARC) unreachable",
  };
  const OUTCOMES = [
    ["safe", "Safe"], ["false_alarm", "False alarm"],
    ["emergency_services_called", "Emergency services called"], ["other", "Other"],
  ];
  const STATE = { raised: "Raised — nobody told yet", notified: "Waiting for someone to take it", acknowledged: "Taken", resolved: "Resolved" };
  const openResolveForms = new Set();
  // Waiting for a person to take it (the server's open states less "acknowledged").
  const unacknowledged = (a) => a.state === "raised" || a.state === "notified";
  let seenRed = null; // ids of red alerts already known, to spot new ones

  // -- sound and title ---------------------------------------------------------------
  let audio = null;
  const soundButton = document.getElementById("sound");
  function soundOn() { return audio !== null && audio.state === "running"; }
  function showSound() {
    soundButton.textContent = soundOn() ? "Sound is on" : "Sound is off — turn on";
    soundButton.setAttribute("aria-pressed", String(soundOn()));
  }
  soundButton.addEventListener("click", async () => {
    if (soundOn()) { await audio.suspend(); } else {
      audio = audio || new AudioContext();
      await audio.resume();
      beep();
    }
    showSound();
  });
  try { audio = new AudioContext(); audio.resume().then(showSound, showSound); } catch (e) { audio = null; }
  function beep() {
    if (!soundOn()) return;
    const t = audio.currentTime;
    for (const [offset, freq] of [[0, 880], [0.25, 660], [0.5, 880]]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t + offset);
      gain.gain.exponentialRampToValueAtTime(0.3, t + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + offset + 0.22);
      osc.connect(gain).connect(audio.destination);
      osc.start(t + offset); osc.stop(t + offset + 0.24);
    }
  }
  function updateTitle() {
    const waiting = [...alerts.values()].filter((a) => a.severity === "red" && unacknowledged(a)).length;
    document.title = waiting ? `(${waiting}) RED ALERT — Lonewatch` : "Alerts — Lonewatch";
  }

  // -- rendering ---------------------------------------------------------------------
  const isOpen = (a) => a.state !== "resolved";
  function order(a, b) {
    return (isOpen(b) - isOpen(a)) || ((a.severity !== "red") - (b.severity !== "red")) || a.raised_at.localeCompare(b.raised_at);
  }
  function visitor(a) { return a.staff_name || a.staff || (a.cause && a.cause.contact) || "—"; }
  function step(a) {
    const esc = a.escalation;
    if (esc && esc.policy && esc.tier) {
      const of = esc.policy.tiers ? ` of ${esc.policy.tiers.length}` : "";
      const due = esc.next_due_at && unacknowledged(a) ? `, next at ${LW.fmtClock(esc.next_due_at)}` : "";
      return `tier ${esc.tier}${of}${esc.round ? `, reminder round ${esc.round}` : ""}${due}`;
    }
    // An overdue alert climbs the visit's own ladder (`overdue:<step>:<episode>`): its
    // latest step in the words the visit history uses; "tier N" for the rest.
    const latest = Object.values(a.notifications || {}).filter((n) => n.step && !NEWS.has(n.step))
      .sort((x, y) => (x.requested_at || "").localeCompare(y.requested_at || "")).at(-1);
    if (!latest) return "—";
    const ladder = /^overdue:([a-z_]+)/.exec(latest.step);
    if (ladder) {
      const words = `overdue ladder: ${LW.OVERDUE_STEPS[ladder[1]] || ladder[1].replace(/_/g, " ")}`;
      // Reception's step is a task on the visit board (the pupil's reference, what they
      // found): the text to reception says "see the task on the console"; this is where.
      return ladder[1] === "reception_calls_home" && a.visit
        ? [words, " — ", el("a", { href: "/console/visits#tasks-section" }, "the task is on the visit board")]
        : words;
    }
    return latest.step.replace(/^tier(\d+)/, "tier $1").replace(/_/g, " ");
  }
  const NEWS = new Set(["taken", "handover"]); // told of what people did, not a step up
  // The alarm's own location first (what its SMS said), else the device's last one.
  function where(a) { return (a.cause && a.cause.location) || a.location; }
  function location(a) {
    const w = where(a);
    if (!w || (w.lat == null && !w.address)) return "not known";
    const at = w.at ? `, at ${LW.fmtClock(w.at)}` : "";
    return [LW.place(w), at];
  }
  function address(a) {
    const visit = a.visit || {};
    return a.address || visit.address || null;
  }
  // What we know of each message, honestly: "sent" only means Twilio accepted it; whether a
  // phone got it comes later, from Twilio's status callback (the notification's `delivery`).
  const DELIVERY = {
    delivered: ["delivered ✓", "ok"], read: ["delivered ✓", "ok"],
    answered: ["answered", "ok"], completed: ["answered", "ok"],
    no_answer: ["no answer", "bad"], machine: ["voicemail — not taken", "bad"],
    failed: ["failed ✗", "bad"], undelivered: ["failed ✗", "bad"], canceled: ["failed ✗", "bad"],
    unreported: ["unknown — no report from {provider}", "bad"],
    sent: ["accepted by {provider}", "pending"], queued: ["accepted by {provider}", "pending"],
  };
  const STATE_WORDS = {
    requested: ["sending…", "pending"], sent: ["accepted by {provider}", "pending"],
    failed: ["failed ✗", "bad"], unknown: ["unknown", "bad"], cancelled: ["cancelled", "muted"],
  };
  function delivery(a, n) {
    if (n.state === "cancelled") return STATE_WORDS.cancelled;
    if (n.channel === "voice" && a.acknowledged_via === "voice" && a.acknowledged_by === n.contact_name) return ["pressed 1 ✓", "ok"];
    return DELIVERY[n.delivery] || STATE_WORDS[n.state] || [n.state, "muted"];
  }
  // One row per person: the latest word on each channel, with its time; a number the
  // provider refused for good says so in words. (One row per message grew to 80 rows.)
  const CHANNEL = { sms: "text", voice: "call" };
  const when = (n) => n.changed_at || n.delivered_at || n.failed_at || n.sent_at || n.requested_at || "";
  function people(a) {
    const byPerson = new Map();
    for (const n of Object.values(a.notifications || {})) {
      const key = n.contact || `${n.contact_name}|${n.to}`;
      if (!byPerson.has(key)) byPerson.set(key, { name: n.contact_name, to: n.to, first: when(n), channels: {} });
      const person = byPerson.get(key);
      if (when(n) < person.first) person.first = when(n);
      const ch = person.channels[n.channel] || (person.channels[n.channel] = { latest: n, count: 0, refusal: null });
      ch.count += 1;
      if (n.refusal) ch.refusal = n;
      if (when(n) >= when(ch.latest)) ch.latest = n;
    }
    return [...byPerson.values()].sort((x, y) => x.first.localeCompare(y.first) || x.name.localeCompare(y.name));
  }
  function channelWords(a, ch) {
    if (ch.refusal) return [ch.refusal.refusal, "bad", ch.refusal];
    const [template, tone] = delivery(a, ch.latest);
    const words = template.replace("{provider}", (LW.session && LW.session.provider) || "the provider");
    const about = { taken: "told who took it", handover: "told it is theirs" }[ch.latest.step];
    return [about ? `${about} (${words})` : words, tone, ch.latest];
  }
  function notified(a) {
    const list = people(a);
    if (!list.length) return "nobody yet";
    return el("ul", { class: "told-list" }, list.map((p) =>
      el("li", { class: "told-person" },
        el("span", { class: "told-name" }, p.name,
          // Compact, so two cards' buttons stay on one screen; the number is in its name.
          p.to ? el("a", { class: "told-call", href: `tel:${p.to}`, title: `Call ${p.name} on ${p.to}` },
            el("span", { "aria-hidden": "true" }, "☎"),
            el("span", { class: "visually-hidden" }, `Call ${p.name} on ${p.to}`)) : null),
        el("span", { class: "told-channels" }, Object.entries(p.channels).sort().map(([channel, ch]) => {
          const [words, tone, n] = channelWords(a, ch);
          const detail = `${ch.count} ${CHANNEL[channel] || channel}${ch.count === 1 ? "" : "s"}; state ${n.state}${n.delivery ? `, provider said ${n.delivery}` : ""}${n.error ? `: ${n.error}` : ""}`;
          return el("span", { class: "told-channel", "data-channel": channel, title: detail },
            `${CHANNEL[channel] || channel}${ch.count > 1 ? ` ×${ch.count}` : ""}: `,
            el("span", { class: `delivery ${tone}` }, words),
            el("time", { datetime: when(n) }, ` ${LW.fmtClock(when(n))}`));
        })))));
  }

  // A notification-failure alert is for the console itself: nobody is texted about it, so
  // "nobody told yet" would read as something still to come.
  function stateWords(a) {
    if (a.kind === "notification_failed" && a.state === "raised") return "For the console: call them another way";
    if (a.kind === "arc_unreachable" && a.state === "raised") return "For the console: phone the ARC with the alarm";
    return STATE[a.state] || a.state;
  }
  function unreachable(a) {
    if (a.kind === "arc_unreachable" && a.cause) return `${a.cause.arc || "the ARC"}: ${a.cause.error || "no ACK"}`;
    const c = a.kind === "notification_failed" && a.cause;
    if (!c) return null;
    return `${c.contact || "a contact"}${c.to ? ` (${c.to})` : ""}: ${c.error || "every try failed"}`;
  }

  // The visit in words; its reference (often a generated id) only in the link's title.
  function visitWords(v) {
    const kind = v.lone ? "Lone visit" : "Visit in a pair";
    const back = v.expected_return ? `, expected back ${LW.fmtClock(v.expected_return).slice(0, 5)}` : "";
    return el("span", {}, `${kind}${back} · `,
      el("a", { href: `/console/timeline?visit=${encodeURIComponent(v.id)}`, title: v.ref ? `visit ${v.ref}` : null }, "visit record"));
  }
  // Raised silently (the safe word: a duress alert, or an SOS whose message held it): never
  // a call the person with the visitor could hear. By the alert's recorded flag; a duress
  // alert of before the flag is silent by its kind.
  const silent = (a) => a.silent === true || a.kind === "duress";
  // A number, with one-click call and text links; never a call link on a duress alert
  // (the card says why), and a phone the directory lacks says so.
  function reach(a, person) {
    const phone = person.phone;
    const links = !phone ? [el("span", { class: "counts" }, "no mobile in the directory")]
      : silent(a) ? [el("span", {}, phone), " ", el("span", { class: "counts" }, "(do not call)")]
      : [el("span", {}, phone), " ",
        el("a", { class: "button secondary small", href: `tel:${phone}` }, "Call", el("span", { class: "visually-hidden" }, ` ${person.name}`)),
        " ",
        el("a", { class: "button secondary small", href: `sms:${phone}` }, "Text", el("span", { class: "visually-hidden" }, ` ${person.name}`))];
    return el("li", {}, el("strong", {}, person.name), " ", ...links);
  }

  // On no visit (a visit's card lists its visitors with their numbers), a one-click call
  // back to the person the alert is about, beside their name; never on duress.
  function callBack(a) {
    if ((a.visit && a.visit.visitors) || !a.staff_phone || silent(a)) return null;
    const name = visitor(a);
    return el("a", { class: "told-call", href: `tel:${a.staff_phone}`, title: `Call ${name} on ${a.staff_phone}` },
      el("span", { "aria-hidden": "true" }, "☎"),
      el("span", { class: "visually-hidden" }, `Call ${name} on ${a.staff_phone}`));
  }

  // The facts with the map beside them (below them on a narrow screen), so the map never
  // pushes the Acknowledge button further down the card.
  function withMap(loc, facts) {
    const map = LW.alertMap(loc);
    return map ? el("div", { class: "facts-with-map" }, facts, map) : facts;
  }

  function card(a) {
    const title = `${KIND[a.kind] || a.kind}${visitor(a) !== "—" ? " — " + visitor(a) : ""}`;
    const unack = unacknowledged(a);
    const node = el("li", {
      class: `alert-card ${a.severity} state-${a.state}${unack ? " unacknowledged" : ""}`,
      id: `alert-${a.id}`, "data-alert": a.id, "aria-labelledby": `t-${a.id}`,
    },
      el("div", { class: "card-head" },
        el("h2", { class: "alert-title", id: `t-${a.id}` },
          el("span", { class: `badge ${a.severity}` }, a.severity === "red" ? "Red" : "Amber"),
          title,
          callBack(a),
          el("span", { class: `badge state ${a.state}` }, stateWords(a))),
        el("div", { class: "since" },
          el("span", { "data-since": a.raised_at }, LW.fmtAgo(a.raised_at)),
          el("small", {}, `raised ${LW.fmtClock(a.raised_at)}`))),
      silent(a) ? el("p", { class: "duress-warning", role: "note" },
        el("strong", {}, "Do not call the visitor."),
        " They used their safe word: a call may put them in danger. Follow the duress procedure and call the police if in doubt.") : null,
      withMap(where(a), el("dl", { class: "facts" },
        el("dt", {}, "School"), el("dd", {}, a.school_name || a.school),
        address(a) ? [el("dt", {}, "Address"), el("dd", {}, address(a))] : null,
        a.visit ? [el("dt", {}, "On a visit"), el("dd", {}, visitWords(a.visit))] : null,
        a.visit && a.visit.visitors ? [el("dt", {}, a.visit.visitors.length > 1 ? "Visitors" : "Visitor"),
          el("dd", {}, el("ul", { class: "reach-list" }, a.visit.visitors.map((p) => reach(a, p))))] : null,
        el("dt", {}, "Last known location"), el("dd", {}, location(a)),
        el("dt", {}, "Device"), el("dd", {}, `${a.device || "—"} · code ${a.short_code}`),
        el("dt", {}, "Escalation step"), el("dd", {}, step(a)),
        unreachable(a) ? [el("dt", {}, "Could not reach"), el("dd", { class: "delivery bad" }, unreachable(a))] : null,
        el("dt", {}, "Who has been told"), el("dd", {}, notified(a)),
        a.acknowledged_by ? [el("dt", {}, "Taken by"), el("dd", { class: "taken" }, `${AlertWork.person(a.acknowledged_by, a)} at ${LW.fmtClock(a.acknowledged_at)}`)] : null,
        AlertWork.facts(a))),
      actions(a));
    node.append(...AlertWork.forms(a));
    if (openResolveForms.has(a.id)) node.append(resolveForm(a));
    return node;
  }

  function actions(a) {
    const bar = el("div", { class: "actions" });
    let said = null;
    if (unacknowledged(a)) {
      const hint = a.kind === "overdue" ? `ack-hint-${a.id}` : null;
      bar.append(el("button", { class: "ack", type: "button", "aria-describedby": hint, onclick: (e) => acknowledge(a, e.currentTarget) },
        "Acknowledge", el("span", { class: "visually-hidden" }, ` ${KIND[a.kind] || a.kind} for ${visitor(a)}`)));
      // The policy's steps go on until the visitor is in touch: taking the alert says who is
      // on it, not that the visitor is safe (policy: "If contact has not been made ... a
      // member of SLT will be informed").
      if (hint) said = el("p", { class: "counts ack-hint", id: hint },
        "Taking it does not stop the overdue steps: reception still rings the pupil's home and SLT are still informed, as the policy says, until the visitor is in touch (a text, a check-in, or back at school).");
    }
    bar.append(...AlertWork.buttons(a));
    if (a.state !== "resolved") {
      bar.append(el("button", {
        class: "secondary", type: "button", "aria-expanded": String(openResolveForms.has(a.id)),
        onclick: () => { openResolveForms.add(a.id); render(); document.getElementById(`outcome-${a.id}-safe`)?.focus(); },
      }, "Resolve…"));
    }
    bar.append(el("a", { class: "button secondary", href: `/console/timeline?alert=${a.id}` }, "Timeline"));
    return [bar, said]; // the hint under the buttons, not between them
  }

  function resolveForm(a) {
    const error = el("p", { class: "form-error", role: "alert" });
    const form = el("form", { class: "resolve-form", "aria-label": `Resolve alert ${a.short_code}` },
      el("fieldset", {}, el("legend", {}, "Outcome"),
        OUTCOMES.map(([value, label], i) => el("label", { class: "choice" },
          el("input", { type: "radio", name: "outcome", value, id: `outcome-${a.id}-${value}`, required: true, checked: i === 0 }), label))),
      el("label", { class: "block" }, "What happened (kept in the record)",
        el("textarea", { name: "note", rows: "3", required: true, placeholder: "e.g. Called Sam back, all fine, button pressed by mistake" })),
      error,
      el("div", { class: "actions" },
        el("button", { class: "primary", type: "submit" }, "Resolve alert"),
        el("button", { class: "secondary", type: "button", onclick: () => { openResolveForms.delete(a.id); render(); } }, "Cancel")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const note = String(data.get("note") || "").trim();
      if (!note) { error.textContent = "Say what happened before resolving."; return; }
      form.querySelector("button[type=submit]").disabled = true;
      try {
        const doc = await api(`/api/v1/alerts/${a.id}/resolve`, { method: "POST", body: { outcome: data.get("outcome"), note } });
        openResolveForms.delete(a.id);
        upsert(doc);
        LW.announce(`Alert ${a.short_code} resolved.`);
      } catch (e) {
        error.textContent = e.message;
        form.querySelector("button[type=submit]").disabled = false;
      }
    });
    return form;
  }

  async function acknowledge(a, button) {
    button.disabled = true;
    try {
      upsert(await api(`/api/v1/alerts/${a.id}/acknowledge`, { method: "POST" }));
      LW.announce(`You have taken alert ${a.short_code}.`);
    } catch (e) {
      LW.announce(e.message);
      button.disabled = false;
      if (e.status === 409) await reload();
    }
  }

  function resolvedRow(a) {
    const outcome = Object.fromEntries(OUTCOMES)[a.outcome] || a.outcome || "—";
    return el("tr", {},
      el("td", {}, `${KIND[a.kind] || a.kind} · ${a.short_code}`),
      el("td", {}, visitor(a)),
      el("td", {}, LW.fmtDate(a.raised_at)),
      el("td", {}, `${LW.fmtClock(a.resolved_at)} by ${LW.person(a.resolved_by, a)}`),
      el("td", {}, outcome, a.note ? el("div", { class: "counts" }, a.note_words || a.note) : null),
      el("td", {}, el("a", { href: `/console/timeline?alert=${a.id}` }, "Timeline")));
  }

  function render() {
    const sorted = [...alerts.values()].sort(order);
    const open = sorted.filter(isOpen);
    const list = document.getElementById("open");
    // Keep focus and typed notes: only rebuild cards whose alert changed.
    const wanted = open.map((a) => a.id);
    for (const node of [...list.children]) if (!wanted.includes(node.dataset.alert)) node.remove();
    open.forEach((a, i) => {
      let node = document.getElementById(`alert-${a.id}`);
      const stamp = `${a.state}|${a.updated_at}|${JSON.stringify(a.notifications)}|${openResolveForms.has(a.id)}|${AlertWork.stamp(a)}`;
      if (!node || node.dataset.stamp !== stamp) {
        const fresh = card(a);
        fresh.dataset.stamp = stamp;
        if (node) {
          LW.keepMap(node, fresh);
          // What was typed or chosen in an open form stays, whatever changed on the card.
          const typed = [...node.querySelectorAll("form textarea, form select")].map((f) => [f.closest("form").className, f.name, f.value]);
          node.replaceWith(fresh);
          for (const [form, name, value] of typed) {
            const field = [...fresh.querySelectorAll(`form [name="${name}"]`)].find((f) => f.closest("form").className === form);
            if (field && value) field.value = value;
          }
        }
        node = fresh;
      }
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
    });
    if (!open.length) {
      list.replaceChildren(el("li", { class: "empty" }, el("strong", {}, "No open alerts"), "Everyone is accounted for. New alerts appear here at once, with a sound."));
    } else {
      list.querySelector(".empty")?.remove();
    }
    const red = open.filter((a) => a.severity === "red").length;
    document.getElementById("summary").textContent =
      `${open.length} open (${red} red). Updated live.`;
    const done = sorted.filter((a) => !isOpen(a)).sort((a, b) => (b.resolved_at || "").localeCompare(a.resolved_at || ""));
    document.getElementById("resolved").replaceChildren(...(done.length
      ? done.slice(0, 15).map(resolvedRow)
      : [el("tr", {}, el("td", { colspan: "6", class: "counts" }, "Nothing resolved yet."))]));
    updateTitle();
  }

  function upsert(doc) {
    const known = alerts.get(doc.id);
    if (known && doc.updated_at && known.updated_at && doc.updated_at < known.updated_at) return;
    alerts.set(doc.id, doc);
    if (seenRed && doc.severity === "red" && isOpen(doc) && !seenRed.has(doc.id)) {
      seenRed.add(doc.id);
      beep();
      LW.announce(`New red alert: ${KIND[doc.kind] || doc.kind}, ${visitor(doc)}, ${doc.school_name || doc.school}.`);
    }
    render();
  }

  async function reload() {
    const { alerts: docs } = await api("/api/v1/alerts");
    alerts.clear();
    for (const doc of docs) alerts.set(doc.id, doc);
    if (seenRed === null) seenRed = new Set(docs.filter((d) => d.severity === "red").map((d) => d.id));
    else for (const doc of docs) if (!seenRed.has(doc.id) && doc.severity === "red" && isOpen(doc)) upsert(doc);
    render();
  }

  AlertWork.connect({ render, upsert });

  LW.start("feed").then(async (session) => {
    if (!session.may.watch) { location.replace("/console/visits"); return; }
    showSound();
    await reload();
    LW.live({ alert: upsert }, reload);
  });
})();
