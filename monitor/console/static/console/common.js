/* Shared by the console pages: labels, CSRF, the proctor WebSocket, commands, toasts.
   Plain JavaScript, no build step. Nothing secret is ever rendered into the page: the socket's
   single-use ticket is fetched (POST, CSRF-protected, same origin) right before connecting. */
"use strict";

const Console = (() => {
  const labelsEl = document.getElementById("console-labels");
  const L = labelsEl ? JSON.parse(labelsEl.textContent) : { status: {}, kind: {}, category: {}, phone: {}, severity: {}, actor: {}, ui: {}, phrases: [] };

  function cookie(name) {
    const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }

  async function postJSON(url, body) {
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": cookie("csrftoken") },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await res.json(); } catch (e) { data = {}; }
    if (!res.ok) {
      const err = new Error(data.message || res.statusText);
      err.code = data.code || String(res.status);
      throw err;
    }
    return data;
  }

  function kindLabel(kind) { return L.kind[kind] || kind; }
  function statusLabel(s) { return L.status[s] || s; }
  function phoneLabel(s) { return L.phone[s] || s; }

  let toastTimer = null;
  function toast(text, kind) {
    const el = document.getElementById("toast");
    if (!el) return;
    el.textContent = text;
    el.className = "toast" + (kind ? " toast-" + kind : "");
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
  }

  function setWsStatus(state) {
    const el = document.getElementById("ws-status");
    if (!el) return;
    el.hidden = false;
    el.dataset.state = state;
    el.textContent = L.ui[state] || state;
  }

  function fmtTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleTimeString(document.documentElement.lang === "en" ? "en-GB" : "zh-CN", { hour12: false });
  }

  /* The proctor socket (monitor/protocol.py): hello → hello_ok → subscribe{session_id} →
     session_state, then deltas. Reconnects with backoff; every reconnect re-subscribes and gets
     the full state again, so nothing is lost while it was down. */
  class ProctorSocket {
    constructor({ ticketUrl, sessionId, onMessage }) {
      this.ticketUrl = ticketUrl;
      this.sessionId = sessionId;
      this.onMessage = onMessage;
      this.ws = null;
      this.ready = false;
      this.backoff = 1000;
      this.pending = new Map();
      this.seq = 0;
      this.heartbeat = null;
    }
    async connect() {
      setWsStatus("connecting");
      let ticket;
      try {
        ticket = await postJSON(this.ticketUrl, {});
      } catch (e) {
        if (e.code === "not_authenticated") { window.location.reload(); return; }
        return this.retry();
      }
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(scheme + "//" + location.host + ticket.path + "?ticket=" + encodeURIComponent(ticket.ticket));
      this.ws = ws;
      ws.onopen = () => ws.send(JSON.stringify({ type: "hello", version: 1 }));
      ws.onmessage = (ev) => {
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg.type === "hello_ok") {
          ws.send(JSON.stringify({ type: "subscribe", session_id: this.sessionId }));
          return;
        }
        if (msg.type === "session_state") {
          this.ready = true;
          this.backoff = 1000;
          setWsStatus("connected");
          clearInterval(this.heartbeat);
          this.heartbeat = setInterval(() => this.send({ type: "heartbeat" }), 10000);
        }
        if (msg.type === "command_result") {
          const p = this.pending.get(msg.request_id);
          if (p) {
            this.pending.delete(msg.request_id);
            if (msg.ok) p.resolve(msg); else { const err = new Error(msg.message || msg.code); err.code = msg.code; p.reject(err); }
          }
          return;
        }
        this.onMessage(msg);
      };
      ws.onclose = () => {
        this.ready = false;
        clearInterval(this.heartbeat);
        for (const p of this.pending.values()) { const e = new Error("disconnected"); e.code = "disconnected"; p.reject(e); }
        this.pending.clear();
        this.retry();
      };
    }
    retry() {
      setWsStatus("disconnected");
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 15000);
    }
    send(msg) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
    }
    /* A command over the socket, answered by command_result; over HTTP when the socket is down. */
    command(msg, httpUrl) {
      if (!this.ready) return postJSON(httpUrl, msg);
      const requestId = "c" + (++this.seq) + "-" + Date.now();
      return new Promise((resolve, reject) => {
        this.pending.set(requestId, { resolve, reject });
        this.send(Object.assign({}, msg, { request_id: requestId }));
        setTimeout(() => {
          if (this.pending.delete(requestId)) { const e = new Error("timeout"); e.code = "timeout"; reject(e); }
        }, 10000);
      });
    }
  }

  // The language switcher submits on change (a plain form otherwise).
  const lang = document.getElementById("lang-form");
  if (lang) lang.querySelector("select").addEventListener("change", () => lang.submit());
  document.querySelectorAll("select.autosubmit, input.autosubmit").forEach((el) => {
    el.addEventListener("change", () => el.form.submit());
  });

  /* exams.selectors.AttemptState (+ monitor's "phone": {state, ...}) in the shape the pages use.
     A field the state does not carry is left undefined: the page keeps what it shows. */
  function normaliseState(state) {
    const warnings = Array.isArray(state.warnings)
      ? Object.fromEntries(state.warnings.map((w) => [w.category, w.issued]))
      : state.warnings;
    const phone = state.phone && typeof state.phone === "object" ? state.phone.state : state.phone;
    const incidents = state.incidents || state.open_incidents;
    return {
      status: state.status,
      screen_leaves: state.screen_leaves_used ?? state.screen_leaves,
      warnings,
      phone,
      incidents: Array.isArray(incidents) ? incidents : undefined,
      break_requested: state.break_requested,
      focus_lost: state.away_from_screen ?? state.focus_lost,
    };
  }

  // Attempt states reach the page from several server threads and processes (the desktop's actions,
  // the phone's liveness, the Celery worker's analysis), so an older state can arrive after a newer
  // one. Each carries the server_time it was read at: keep the newest per element, drop older ones.
  function staleState(el, raw) {
    const at = Date.parse((raw && raw.server_time) || "");
    if (Number.isNaN(at)) return false;
    if (at < Number(el.dataset.stateAt || 0)) return true;
    el.dataset.stateAt = String(at);
    return false;
  }

  return { L, postJSON, normaliseState, staleState, kindLabel, statusLabel, phoneLabel, toast, fmtTime, ProctorSocket, setWsStatus };
})();
