// Shared by every console page: who is signed in, the API with CSRF, the live stream,
// and small helpers. Everything is built with textContent: nothing from the server is
// ever parsed as HTML.
"use strict";

const LW = (() => {
  let session = null;

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  class ApiError extends Error {
    constructor(status, detail) { super(detail); this.status = status; }
  }

  async function api(path, { method = "GET", body } = {}) {
    const headers = { Accept: "application/json" };
    if (method !== "GET" && session && session.csrf_token) headers["X-CSRF-Token"] = session.csrf_token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const send = () => fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let response = await send();
    // Past the rate limit the request was refused before anything was done, so sending it
    // again after Retry-After is safe, a write included: a busy page (several tabs, a
    // board reloading) waits a moment instead of telling the person "not recorded".
    for (let tries = 0; response.status === 429 && tries < 2; tries++) {
      const wait = Math.min(Number(response.headers.get("Retry-After")) || 1, 5);
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      response = await send();
    }
    if (response.status === 401) {
      location.assign("/console/login?next=" + encodeURIComponent(location.pathname + location.search));
      throw new ApiError(401, "signed out");
    }
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) throw new ApiError(response.status, (data && data.detail) || response.statusText);
    return data;
  }

  // -- time ------------------------------------------------------------------------
  // Every time is told in the school's zone (from the session), with the zone shown where a
  // full date is, so the console, the texts and the printed record say the same time.
  let clock, dated, stamp;
  function useZone(timeZone) {
    const zone = timeZone ? { timeZone } : {};
    clock = new Intl.DateTimeFormat("en-GB", { ...zone, hour: "2-digit", minute: "2-digit", second: "2-digit" });
    dated = new Intl.DateTimeFormat("en-GB", {
      ...zone, weekday: "short", day: "numeric", month: "short", year: "numeric",
      hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
    });
    stamp = new Intl.DateTimeFormat("en-GB", {
      ...zone, day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
      timeZoneName: "short",
    });
  }
  useZone(null);
  // "2026-12-06T21:37:05" as the school's wall clock shows it (for a datetime-local input).
  function wallClock(iso) {
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
      timeZone: (session && session.timezone) || undefined, hourCycle: "h23",
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
    return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}`;
  }
  // The instant a wall-clock time in the school's zone names (the inverse of wallClock).
  function fromWallClock(text) {
    const guess = new Date(text + "Z").getTime();
    const offset = new Date(wallClock(new Date(guess).toISOString()) + "Z").getTime() - guess;
    return guess - offset;
  }
  const fmtStamp = (iso) => (iso ? stamp.format(new Date(iso)) : "—");
  const fmtClock = (iso) => (iso ? clock.format(new Date(iso)) : "—");
  const fmtDate = (iso) => (iso ? dated.format(new Date(iso)) : "—");
  function fmtAgo(iso, now = Date.now()) {
    if (!iso) return "—";
    let s = Math.max(0, Math.floor((now - new Date(iso).getTime()) / 1000));
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d) return `${d}d ${h}h ago`;
    if (h) return `${h}h ${m}m ago`;
    if (m) return `${m}m ${String(s).padStart(2, "0")}s ago`;
    return `${s}s ago`;
  }
  // Anything with data-since="ISO" shows a ticking "2m 05s ago".
  setInterval(() => {
    const now = Date.now();
    for (const node of document.querySelectorAll("[data-since]")) node.textContent = fmtAgo(node.dataset.since, now);
  }, 1000);

  // -- page frame --------------------------------------------------------------------
  const NAV = [
    ["feed", "/console/", "Alerts", (s) => s.may.watch],
    ["visits", "/console/visits", "Visits", () => true],
    ["devices", "/console/devices", "Devices", (s) => s.may.watch],
    ["history", "/console/history", "History", (s) => s.may.watch],
    ["reports", "/console/reports", "Reports", (s) => s.may.watch],
    ["audit", "/console/audit", "Audit trail", (s) => s.may.audit],
    ["policy", "/console/policy", "Visit policy", () => true],
    ["admin", "/console/admin", "Users", (s) => s.may.users],
  ];
  // The overdue ladder's steps (the directory's `do:` values) as a receptionist says them:
  // the board's row, the alert card and the visit history use these words alike.
  const OVERDUE_STEPS = {
    contact_staff: "texting and ringing the visitor", reception_calls_home: "reception rings the pupil's home", inform_slt: "SLT informed",
  };
  const ROLE = { staff: "Staff", operator: "Contact centre", dsl: "DSL", headteacher: "Headteacher", slt: "SLT", admin: "Admin" };

  // A page that does not follow the live stream says so, and what it shows is as loaded.
  function snapshot() {
    const p = document.getElementById("live-pill");
    if (!p) return;
    p.classList.remove("down");
    p.classList.add("snapshot");
    p.textContent = `As loaded ${clock.format(new Date())}`;
    p.title = "This page is not live: reload it for anything recorded since.";
  }

  // A refusal or a failure shown in the page itself, in words, not only in the browser's console.
  function refusal(error, what) {
    const words = error && error.status === 403
      ? `You cannot ${what}: ${error.message}`
      : `Could not ${what}: ${(error && error.message) || error}. Reload the page to try again.`;
    const main = document.getElementById("main");
    const box = el("div", { class: "banner refused", role: "alert" }, words);
    if (main) main.prepend(box);
    return box;
  }

  async function start(page, { live: following = true } = {}) {
    session = await api("/api/v1/session");
    useZone(session.timezone);
    const links = NAV.filter(([, , , allowed]) => allowed(session)).map(([name, href, label]) =>
      el("li", {}, el("a", { href, "aria-current": name === page ? "page" : null }, label)));
    const signOut = el("form", { method: "post", action: "/console/logout" },
      el("input", { type: "hidden", name: "csrf_token", value: session.csrf_token || "" }),
      el("button", { class: "link-button", type: "submit" }, "Sign out"));
    const bar = document.getElementById("topbar");
    bar.className = "topbar";
    bar.replaceChildren(
      el("a", { class: "brand", href: "/console/" }, el("span", { class: "brand-mark", "aria-hidden": "true" }, "L"), "Lonewatch"),
      el("nav", { "aria-label": "Console" }, el("ul", {}, links)),
      el("div", { class: "who" },
        el("span", { id: "live-pill", class: "status-pill down", role: "status" }, "Connecting"),
        el("span", {}, el("strong", {}, session.username), ` · ${ROLE[session.role] || session.role}`,
          session.school ? ` · ${session.school}` : " · all schools"),
        signOut));
    if (!following) snapshot();
    return session;
  }

  // -- the live stream ------------------------------------------------------------------
  // EventSource reconnects by itself after a network error; while it is down a banner
  // says so, and when it is back the page reloads its list (changes may have been missed).
  function live(handlers, onReconnect) {
    const banner = document.getElementById("offline");
    const pill = () => document.getElementById("live-pill");
    let source = null;
    let wasDown = false;
    let retry = null;
    function down() {
      wasDown = true;
      if (banner) banner.hidden = false;
      const p = pill(); if (p) { p.classList.add("down"); p.textContent = "Reconnecting"; }
    }
    function up() {
      if (banner) banner.hidden = true;
      const p = pill(); if (p) { p.classList.remove("down"); p.textContent = "Live"; }
      if (wasDown) { wasDown = false; onReconnect(); }
    }
    function connect() {
      source = new EventSource("/api/v1/stream");
      source.addEventListener("hello", up);
      for (const [name, handle] of Object.entries(handlers)) {
        source.addEventListener(name, (event) => handle(JSON.parse(event.data)));
      }
      source.onerror = () => {
        down();
        // A refused reconnect (signed out, server restarting) closes it for good: try again.
        if (source.readyState === EventSource.CLOSED && retry === null) {
          retry = setTimeout(async () => {
            retry = null;
            try { await api("/api/v1/session"); } catch (e) { /* 401 goes to sign in */ }
            connect();
          }, 3000);
        }
      };
    }
    connect();
    return { close: () => source && source.close() };
  }

  function announce(text) {
    const region = document.getElementById("announcer");
    if (!region) return;
    region.textContent = "";
    setTimeout(() => { region.textContent = text; }, 50);
  }

  // Where a device was, as a person can use it: the address where known, else a map link
  // (never a bare pair of numbers; the numbers stay in the link's title).
  function place(loc) {
    const within = loc.acc ? ` (within ${Math.round(loc.acc)} m)` : "";
    if (loc.address) return [loc.address, within];
    if (loc.lat == null || loc.lon == null) return "not known";
    const lat = Number(loc.lat).toFixed(5), lon = Number(loc.lon).toFixed(5);
    const href = loc.map || `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}&zoom=17`;
    return [el("a", { href, target: "_blank", rel: "noopener", title: `${lat}, ${lon}`, class: "map-link" }, "map"), within];
  }

  // A recorded actor ("dsl:dsl1") as the person is known: "you" for oneself, else the words
  // the API gave beside the document (`people`, the audit trail's rule: "dsl1 (DSL)").
  // The page never words a role itself; an actor the API did not word shows as recorded.
  function person(actor, doc) {
    if (!actor) return "—";
    if (session && actor === session.actor) return "you";
    return ((doc && doc.people) || {})[actor] || actor;
  }

  return {
    el, api, ApiError, start, live, announce, refusal, fmtAgo, fmtClock, fmtDate, fmtStamp, wallClock, fromWallClock,
    place, person, OVERDUE_STEPS, get session() { return session; },
  };
})();
