// The wabus console: plain DOM code, no framework. Every value that comes
// from WhatsApp or the API is put on the page with textContent or as an
// attribute, never parsed as HTML.
"use strict";
(() => {
  const TOKEN_KEY = "wabus.admin-token";
  const TENANT = /^[A-Za-z0-9_-]{1,64}$/;
  const JOB_STATUSES = ["queued", "sending", "sent", "failed"];
  const MAX_EVENTS = 200;
  const app = document.getElementById("app");
  const conn = document.getElementById("conn");
  const forget = document.getElementById("forget");
  let token = sessionStorage.getItem(TOKEN_KEY) || "";
  let cleanup = () => {};

  class Unauthorized extends Error {}

  // el builds an element: attrs "text" sets textContent, "testid" sets
  // data-testid, "on<event>" adds a listener, others are attributes.
  function el(tag, attrs = {}, ...children) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") n.textContent = v;
      else if (k === "testid") n.dataset.testid = v;
      else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? "" : String(v));
    }
    n.append(...children);
    return n;
  }

  function headers(json) {
    const h = { Authorization: "Bearer " + token };
    if (json) h["Content-Type"] = "application/json";
    return h;
  }

  // api calls admin and returns the decoded JSON; it throws Unauthorized
  // on 401 and an Error with .code and .status on other errors.
  async function api(method, path, body) {
    const res = await fetch(path, {
      method, headers: headers(body !== undefined), cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401) throw new Unauthorized("the token was refused");
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!res.ok) {
      const e = new Error((data && data.error) || res.status + " " + res.statusText);
      e.code = data && data.code;
      e.status = res.status;
      throw e;
    }
    return data;
  }

  // stream reads Server-Sent Events with fetch (the browser's own SSE client cannot send the
  // bearer header) and calls onEvent(name, data) for each; it resolves when
  // the stream ends.
  async function stream(path, onEvent, signal) {
    const res = await fetch(path, { headers: headers(false), signal, cache: "no-store" });
    if (res.status === 401) throw new Unauthorized("the token was refused");
    if (!res.ok) {
      let msg = res.status + " " + res.statusText;
      try { msg = (await res.json()).error || msg; } catch { /* not JSON */ }
      throw new Error(msg);
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let name = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) name = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (!data) continue;
        let v;
        try { v = JSON.parse(data); } catch { continue; }
        onEvent(name, v);
      }
    }
  }

  // fail shows err: a refused token brings the token prompt back.
  function fail(err, where) {
    if (err instanceof Unauthorized) {
      signOut(true);
      return;
    }
    if (err && err.name === "AbortError") return;
    where.textContent = err && err.message ? err.message : String(err);
  }

  function signOut(refused) {
    token = "";
    sessionStorage.removeItem(TOKEN_KEY);
    show(() => tokenView(refused));
  }

  function status(text) { conn.textContent = text; }

  function show(render) {
    cleanup();
    app.replaceChildren();
    cleanup = render() || (() => {});
  }

  function route() {
    if (!token) return show(() => tokenView(false));
    forget.hidden = false;
    const m = location.hash.match(/^#\/t\/([^/]+)$/);
    const tenant = m ? decodeURIComponent(m[1]) : "";
    if (tenant && TENANT.test(tenant)) return show(() => tenantView(tenant));
    return show(listView);
  }

  function tokenView(refused) {
    forget.hidden = true;
    status("");
    const input = el("input", { type: "password", id: "token", testid: "token-input", autocomplete: "off", required: true });
    const error = el("p", { class: "error", testid: "token-error", role: "alert", hidden: !refused, text: "The token was refused." });
    const form = el("form", { class: "inline", onsubmit: async (ev) => {
      ev.preventDefault();
      token = input.value.trim();
      try {
        await api("GET", "/v1/sessions");
      } catch (err) {
        token = "";
        error.hidden = false;
        error.textContent = err instanceof Unauthorized ? "The token was refused." : "Admin did not answer: " + err.message;
        input.focus();
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, token);
      route();
    } },
    el("label", { for: "token", text: "Admin token" }), input,
    el("button", { type: "submit", class: "primary", testid: "token-submit", text: "Open" }));
    app.append(el("h2", { text: "Sign in" }),
      el("p", { class: "muted", text: "The token stays in this tab only and is sent as a bearer header." }), form, error);
    input.focus();
  }

  function fmtTime(s) {
    if (!s) return "";
    const d = new Date(s);
    return isNaN(d) ? String(s) : d.toLocaleString();
  }

  function stateBadge(state, testid) {
    return el("span", { class: "state", testid, "data-state": state || "", text: state || "unknown" });
  }

  function listView() {
    status("");
    const error = el("p", { class: "error", role: "alert" });
    const input = el("input", { id: "new-tenant", testid: "new-tenant-input", placeholder: "tenant id, e.g. 13", required: true, autocomplete: "off" });
    const form = el("form", { class: "inline", onsubmit: async (ev) => {
      ev.preventDefault();
      const t = input.value.trim();
      if (!TENANT.test(t)) {
        error.textContent = "A tenant id is 1 to 64 letters, digits, '_' or '-'.";
        return;
      }
      try {
        await api("PUT", "/v1/sessions/" + encodeURIComponent(t));
        location.hash = "#/t/" + encodeURIComponent(t);
      } catch (err) { fail(err, error); }
    } }, el("label", { for: "new-tenant", text: "New tenant" }), input,
    el("button", { type: "submit", class: "primary", testid: "new-tenant-submit", text: "Create" }));
    const body = el("tbody");
    const empty = el("p", { class: "muted", text: "No tenants yet.", hidden: true });
    app.append(el("h2", { text: "Sessions" }), form, error,
      el("table", {}, el("thead", {}, el("tr", {},
        el("th", { text: "Tenant" }), el("th", { text: "State" }), el("th", { class: "hide-narrow", text: "Worker" }),
        el("th", { class: "hide-narrow", text: "Since" }), el("th", { class: "hide-narrow", text: "Reconnects" }),
        el("th", { text: "Pending" }), el("th", { text: "Paused" }))), body), empty);
    const rows = new Map();
    const refresh = async () => {
      try {
        const { sessions } = await api("GET", "/v1/sessions");
        const seen = new Set();
        for (const s of sessions) {
          seen.add(s.tenant);
          let row = rows.get(s.tenant);
          if (!row) {
            row = el("tr", { testid: "session-row-" + s.tenant });
            rows.set(s.tenant, row);
            body.append(row);
          }
          row.dataset.state = s.state;
          row.replaceChildren(
            el("td", {}, el("a", { href: "#/t/" + encodeURIComponent(s.tenant), testid: "session-link-" + s.tenant, text: s.tenant })),
            el("td", {}, stateBadge(s.state)),
            el("td", { class: "hide-narrow", text: s.worker || "" }),
            el("td", { class: "hide-narrow", text: fmtTime(s.since) }),
            el("td", { class: "hide-narrow", text: String(s.reconnects ?? 0) }),
            el("td", { text: String(s.pending_jobs ?? 0) }),
            el("td", { text: s.paused ? "yes" : "" }));
        }
        for (const [t, row] of rows) if (!seen.has(t)) { row.remove(); rows.delete(t); }
        empty.hidden = rows.size > 0;
        error.textContent = "";
        status("live");
      } catch (err) { status("reconnecting…"); fail(err, error); }
    };
    refresh();
    const timer = setInterval(refresh, 1500);
    return () => clearInterval(timer);
  }

  function summary(kind, ev) {
    const d = ev.data || {};
    switch (kind) {
      case "message": {
        const who = d.push_name || d.sender || "";
        let what = d.text || "";
        if (!what && d.media && d.media.filename) what = d.media.filename;
        if (!what) what = "(" + (d.type || "message") + ")";
        return who + ": " + what;
      }
      case "sent": return (d.job_id || "") + " → " + (d.to || "") + " (" + (d.message_id || "") + ")";
      case "failed": return (d.job_id || "") + ": " + (d.code || "") + " " + (d.error || "");
      case "receipt": return (d.type || "") + " " + (d.message_ids || []).length + " from " + (d.sender || d.chat || "");
      case "session": return (d.state || "") + (d.reason ? ": " + d.reason : "");
    }
    return ev.type || "";
  }

  function tenantView(tenant) {
    const path = "/v1/sessions/" + encodeURIComponent(tenant);
    const ctl = new AbortController();
    const timers = [];
    const error = el("p", { class: "error", role: "alert" });
    let current = null;

    const state = stateBadge("", "session-state");
    const facts = el("dl");
    const pauseBtn = el("button", { type: "button", testid: "pause-toggle", text: "Pause" });
    const actions = el("div", { class: "actions" },
      el("button", { type: "button", testid: "reconnect-button", text: "Reconnect", onclick: () =>
        api("POST", path + "/reconnect").then(refresh, (err) => fail(err, error)) }),
      pauseBtn,
      el("button", { type: "button", class: "danger", testid: "logout-button", text: "Log out", onclick: async () => {
        if (!confirm("Log " + tenant + " out of WhatsApp? It will need a new pairing.")) return;
        try { await api("POST", path + "/logout"); await refresh(); } catch (err) { fail(err, error); }
      } }));
    pauseBtn.addEventListener("click", async () => {
      const paused = !(current && current.paused);
      try { current = await api("PUT", path, { paused }); render(); } catch (err) { fail(err, error); }
    });

    // Pairing: a live QR code while the tenant is not paired, or a phone code.
    const qrImg = el("img", { testid: "qr-image", alt: "QR code to scan with WhatsApp > Linked devices", hidden: true });
    const qrNote = el("p", { class: "muted" });
    const qrAgain = el("button", { type: "button", text: "Show a new QR code", hidden: true, onclick: () => startQR() });
    const phoneInput = el("input", { id: "pair-phone", testid: "pair-phone-input", placeholder: "+51987654321", inputmode: "tel", autocomplete: "off" });
    const phoneCode = el("p", { class: "code", testid: "pair-phone-code", "aria-live": "polite" });
    const pairing = el("section", { hidden: true }, el("h3", { text: "Pair a phone" }),
      el("div", { class: "grid" },
        el("div", { class: "qr" }, qrImg, qrNote, qrAgain),
        el("div", {},
          el("form", { class: "inline", onsubmit: async (ev) => {
            ev.preventDefault();
            phoneCode.textContent = "";
            try {
              const r = await api("POST", path + "/pair-phone", { phone: phoneInput.value.trim() });
              phoneCode.textContent = r.code;
            } catch (err) { fail(err, error); }
          } }, el("label", { for: "pair-phone", text: "Or pair by phone number" }), phoneInput,
          el("button", { type: "submit", testid: "pair-phone-submit", text: "Get a code" })),
          phoneCode)));
    let qrCtl = null;
    function startQR() {
      if (qrCtl) return;
      qrCtl = new AbortController();
      ctl.signal.addEventListener("abort", () => qrCtl && qrCtl.abort());
      qrAgain.hidden = true;
      qrAgain.textContent = "Show a new QR code";
      qrNote.textContent = "Waiting for a code…";
      stream(path + "/qr", (name, d) => {
        if (name === "qr") {
          qrImg.src = d.png;
          qrImg.hidden = false;
          qrNote.textContent = "Scan with WhatsApp > Linked devices > Link a device.";
        } else if (name === "paired") {
          qrImg.hidden = true;
          qrImg.removeAttribute("src");
          qrNote.textContent = "Paired as " + d.jid + ".";
          refresh();
        } else if (name === "timeout") {
          qrImg.hidden = true;
          qrNote.textContent = "No code was scanned in time.";
        }
      }, qrCtl.signal).catch((err) => fail(err, error)).finally(() => {
        qrCtl = null;
        if (!ctl.signal.aborted && current && !paired(current)) qrAgain.hidden = false;
      });
    }
    const paired = (s) => s.state === "connected" || (s.jid && s.state !== "logged_out" && s.state !== "unpaired" && s.state !== "pairing");

    // Send a test message.
    const toInput = el("input", { id: "send-to", testid: "send-to-input", placeholder: "+51987654321", autocomplete: "off", required: true });
    const textInput = el("input", { id: "send-text", testid: "send-text-input", placeholder: "Hola", required: true });
    const sendNote = el("p", { class: "muted", "aria-live": "polite" });
    const sendForm = el("form", { class: "inline", onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const r = await api("POST", path + "/messages", { to: toInput.value.trim(), text: textInput.value });
        sendNote.textContent = "Queued as " + r.job_id + ".";
        textInput.value = "";
        loadJobs();
      } catch (err) { fail(err, error); }
    } }, el("label", { for: "send-to", class: "muted", text: "To" }), toInput,
    el("label", { for: "send-text", class: "muted", text: "Text" }), textInput,
    el("button", { type: "submit", class: "primary", testid: "send-submit", text: "Send" }));

    // Jobs, newest first, with a status filter and paging.
    const filter = el("select", { id: "job-status", "aria-label": "Job status" },
      el("option", { value: "", text: "all" }), ...JOB_STATUSES.map((s) => el("option", { value: s, text: s })));
    const jobBody = el("tbody");
    const jobNote = el("p", { class: "muted" });
    const older = el("button", { type: "button", text: "Older", hidden: true });
    const newest = el("button", { type: "button", text: "Newest", hidden: true });
    let before = "", next = "";
    filter.addEventListener("change", () => { before = ""; loadJobs(); });
    older.addEventListener("click", () => { before = next; loadJobs(); });
    newest.addEventListener("click", () => { before = ""; loadJobs(); });
    async function loadJobs() {
      const q = new URLSearchParams({ limit: "20" });
      if (filter.value) q.set("status", filter.value);
      if (before) q.set("before", before);
      try {
        const r = await api("GET", path + "/jobs?" + q);
        next = r.next || "";
        older.hidden = !next;
        newest.hidden = !before;
        jobNote.textContent = r.jobs.length ? "" : "No jobs.";
        jobBody.replaceChildren(...r.jobs.map((j) => el("tr", { testid: "job-row", "data-status": j.status, "data-id": j.id },
          el("td", { text: j.id }), el("td", { text: j.status }), el("td", { class: "hide-narrow", text: j.to || "" }),
          el("td", { class: "hide-narrow", text: j.kind || "" }),
          el("td", { text: j.code ? j.code + (j.error ? ": " + j.error : "") : (j.message_id || "") }),
          el("td", { class: "hide-narrow", text: fmtTime(j.updated_at) }),
          el("td", {}, j.status === "queued" ? el("button", { type: "button", text: "Cancel", "aria-label": "Cancel job " + j.id, onclick: async () => {
            try { await api("DELETE", path + "/jobs/" + encodeURIComponent(j.id)); loadJobs(); } catch (err) { fail(err, error); }
          } }) : ""))));
      } catch (err) { fail(err, jobNote); }
    }

    // The live tail of the tenant's events.
    const events = el("ul", { class: "events", "aria-live": "polite" });
    function addEvent(kind, ev) {
      const pre = el("pre", { hidden: true, text: JSON.stringify(ev, null, 2) });
      const btn = el("button", { type: "button", "aria-expanded": "false", onclick: () => {
        pre.hidden = !pre.hidden;
        btn.setAttribute("aria-expanded", String(!pre.hidden));
      } }, el("span", { class: "kind", text: kind }), el("span", { class: "time", text: ev.time ? new Date(ev.time).toLocaleTimeString() : "" }),
      el("span", { class: "summary", text: summary(kind, ev) }));
      events.prepend(el("li", { testid: "event-row", "data-kind": kind }, btn, pre));
      while (events.children.length > MAX_EVENTS) events.lastChild.remove();
      if (kind === "session") refresh();
      if (kind === "sent" || kind === "failed") loadJobs();
    }
    function tail() {
      stream(path + "/events", addEvent, ctl.signal).then(() => {
        if (!ctl.signal.aborted) setTimeout(tail, 2000);
      }, (err) => {
        fail(err, error);
        if (!(err instanceof Unauthorized) && !ctl.signal.aborted) setTimeout(tail, 2000);
      });
    }

    function render() {
      const s = current;
      state.dataset.state = s.state;
      state.textContent = s.state;
      pauseBtn.textContent = s.paused ? "Resume" : "Pause";
      pauseBtn.setAttribute("aria-pressed", String(!!s.paused));
      const fact = (k, v) => [el("dt", { text: k }), el("dd", { text: v })];
      facts.replaceChildren(el("dt", { text: "State" }), el("dd", {}, state),
        ...fact("Phone", s.jid || "not paired"), ...fact("Worker", s.worker || ""), ...fact("Since", fmtTime(s.since)),
        ...fact("Last error", s.last_error || ""), ...fact("Reconnects", String(s.reconnects ?? 0)),
        ...fact("Pending jobs", String(s.pending_jobs ?? 0)), ...fact("Paused", s.paused ? "yes" : "no"));
      pairing.hidden = paired(s);
      // A new tenant pairs at once; a logged-out one waits to be asked, so
      // that its state stays visible.
      if (s.state === "unpaired" || s.state === "pairing") startQR();
      else if (!pairing.hidden && !qrCtl) {
        qrAgain.textContent = "Pair again";
        qrAgain.hidden = false;
        qrNote.textContent = s.state === "logged_out" ? "WhatsApp removed this device." : "";
      }
    }
    async function refresh() {
      try {
        current = await api("GET", path);
        render();
        status("live");
      } catch (err) {
        if (err.status === 404) { error.textContent = "Tenant " + tenant + " does not exist."; return; }
        status("reconnecting…");
        fail(err, error);
      }
    }

    app.append(
      el("p", {}, el("a", { href: "#/", testid: "back-to-list", text: "← All sessions" })),
      el("h2", { text: tenant }), error, facts, actions, pairing,
      el("h3", { text: "Send a test message" }), sendForm, sendNote,
      el("h3", { text: "Jobs" }), el("div", { class: "pager" }, filter, newest, older),
      el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "Job" }), el("th", { text: "Status" }),
        el("th", { class: "hide-narrow", text: "To" }), el("th", { class: "hide-narrow", text: "Kind" }),
        el("th", { text: "Result" }), el("th", { class: "hide-narrow", text: "Updated" }), el("th", {}))), jobBody), jobNote,
      el("h3", { text: "Events" }), events);
    refresh();
    loadJobs();
    tail();
    timers.push(setInterval(refresh, 3000), setInterval(loadJobs, 3000));
    return () => { ctl.abort(); timers.forEach(clearInterval); };
  }

  forget.addEventListener("click", () => signOut(false));
  window.addEventListener("hashchange", route);
  route();
})();
