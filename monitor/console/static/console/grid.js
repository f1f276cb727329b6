/* The live grid: tiles and the alerts panel follow the proctor WebSocket, no reloads. */
"use strict";

(() => {
  const root = document.getElementById("grid-root");
  if (!root) return;
  const sessionId = Number(root.dataset.session);
  // media_pipeline's audited thumbnail endpoint (api:snapshot-thumbnail).
  const snapshotUrl = (id) => root.dataset.snapshotUrl.replace("/0/", "/" + id + "/");
  const attemptUrl = (id) => root.dataset.attemptUrl.replace("/0/", "/" + id + "/");
  const tiles = new Map();
  document.querySelectorAll(".tile[data-attempt]").forEach((el) => tiles.set(Number(el.dataset.attempt), el));
  const alertsEl = document.getElementById("alerts");

  const normalise = Console.normaliseState;

  function setPhone(tile, phone) {
    if (!phone) return;
    const el = tile.querySelector(".phone");
    el.className = "phone phone-" + phone;
    el.querySelector(".phone-label").textContent = Console.phoneLabel(phone);
  }

  function setAudio(tile, dbfs) {
    if (dbfs === null || dbfs === undefined) return;
    // -60 dBFS (silence) … 0 dBFS (full scale); loud talk is around -20.
    const pct = Math.max(0, Math.min(100, ((dbfs + 60) / 60) * 100));
    const bar = tile.querySelector(".meter i");
    bar.style.width = pct.toFixed(0) + "%";
    bar.className = dbfs > -20 ? "loud" : dbfs > -35 ? "mid" : "";
    tile.querySelector(".db").textContent = Math.round(dbfs) + " dB";
  }

  function setIncidents(tile, incidents) {
    const box = tile.querySelector(".badges");
    box.replaceChildren(...incidents.map((i) => {
      const b = document.createElement("span");
      b.className = "badge sev-" + (i.severity || 2);
      b.dataset.incident = i.id;
      b.textContent = Console.kindLabel(i.kind);
      return b;
    }));
    tile.classList.toggle("has-incidents", incidents.length > 0);
  }

  function applyState(tile, raw) {
    if (Console.staleState(tile, raw)) return;
    const s = normalise(raw);
    if (s.status) {
      tile.className = tile.className.replace(/\bstatus-[a-z_]+/g, "").trim() + " status-" + s.status;
      const pill = tile.querySelector(".pill.status");
      pill.className = "pill status status-" + s.status;
      pill.textContent = Console.statusLabel(s.status);
    }
    if (s.screen_leaves !== undefined) tile.querySelector(".leaves b").textContent = s.screen_leaves;
    if (s.warnings && typeof s.warnings === "object") {
      tile.querySelectorAll(".counter.warn").forEach((c) => { c.querySelector("b").textContent = s.warnings[c.dataset.cat] || 0; });
    }
    setPhone(tile, s.phone);
    if (s.incidents) setIncidents(tile, s.incidents);
    if (s.break_requested !== undefined) tile.querySelector(".flag-break").hidden = !s.break_requested;
    if (s.focus_lost !== undefined) tile.querySelector(".flag-focus").hidden = !s.focus_lost;
    if (raw.audio_dbfs !== undefined) setAudio(tile, raw.audio_dbfs);
  }

  function setSnapshot(tile, id) {
    const img = tile.querySelector("img.snap");
    // Preload, then swap: the tile never flashes empty while the next frame loads.
    const next = new Image();
    next.onload = () => { img.src = next.src; img.hidden = false; tile.querySelector(".no-image").hidden = true; };
    next.src = snapshotUrl(id);
    tile.classList.add("fresh");
    setTimeout(() => tile.classList.remove("fresh"), 1200);
  }

  function tileName(attemptId) {
    const t = tiles.get(attemptId);
    return t ? t.querySelector(".name").textContent : "#" + attemptId;
  }

  /* Alerts: one entry per (attempt, kind[, incident]); most severe first, then newest first. */
  function addAlert({ attemptId, kind, severity, at, incidentId, name }) {
    const key = attemptId + ":" + kind + ":" + (incidentId || "");
    let li = alertsEl.querySelector('li[data-key="' + key + '"]');
    alertsEl.querySelector(".empty-alerts")?.remove();
    if (!li) {
      li = document.createElement("li");
      li.dataset.key = key;
      const a = document.createElement("a");
      a.href = attemptUrl(attemptId);
      a.innerHTML = '<span class="a-kind"></span><span class="a-name"></span><time></time>';
      li.appendChild(a);
    }
    li.className = "alert sev-" + severity + " new";
    li.dataset.attempt = attemptId;
    li.dataset.kind = kind;
    li.dataset.severity = severity;
    li.dataset.at = at;
    li.querySelector(".a-kind").textContent = Console.kindLabel(kind);
    li.querySelector(".a-name").textContent = name || tileName(attemptId);
    li.querySelector("time").textContent = Console.fmtTime(at);
    const items = [...alertsEl.querySelectorAll("li.alert")].filter((x) => x !== li);
    const before = items.find((x) => Number(x.dataset.severity) < severity
      || (Number(x.dataset.severity) === severity && Date.parse(x.dataset.at) < Date.parse(at)));
    alertsEl.insertBefore(li, before || null);
    document.getElementById("alert-count").textContent = alertsEl.querySelectorAll("li.alert").length;
  }

  function removeAlerts(attemptId, kind) {
    alertsEl.querySelectorAll('li.alert[data-attempt="' + attemptId + '"][data-kind="' + kind + '"]').forEach((x) => x.remove());
    document.getElementById("alert-count").textContent = alertsEl.querySelectorAll("li.alert").length;
  }

  const EVENT_ALERTS = { break_request: 2, focus_lost: 2, phone_lost: 3, desktop_lost: 3 };
  const CLEARS = { focus_regained: "focus_lost", break_approve: "break_requested", break_deny: "break_requested",
    phone_restored: "phone_lost", desktop_restored: "desktop_lost" };

  function onMessage(msg) {
    if (msg.session_id !== undefined && msg.session_id !== sessionId) return;
    if (msg.type === "session_state") {
      (msg.attempts || []).forEach((st) => {
        const t = tiles.get(st.attempt_id ?? st.id);
        if (t) applyState(t, st);
      });
      return;
    }
    const tile = tiles.get(msg.attempt_id);
    if (msg.type === "attempt") {
      if (tile) applyState(tile, msg.state || {});
      (msg.events || []).forEach((e) => {
        const kind = e.kind === "break_request" ? "break_requested" : e.kind;
        if (EVENT_ALERTS[e.kind]) addAlert({ attemptId: msg.attempt_id, kind, severity: EVENT_ALERTS[e.kind], at: e.created_at });
        if (CLEARS[e.kind]) removeAlerts(msg.attempt_id, CLEARS[e.kind]);
        if (e.kind === "warning_ack") Console.toast(tileName(msg.attempt_id) + " · " + Console.L.ui.ack, "ok");
      });
      const incidents = normalise(msg.state || {}).incidents;
      if (incidents) incidents.forEach((i) => addAlert({ attemptId: msg.attempt_id, kind: i.kind, severity: i.severity || 2,
        at: i.last_seen_at || new Date().toISOString(), incidentId: i.id }));
    } else if (msg.type === "snapshot") {
      if (tile) setSnapshot(tile, msg.snapshot_id);
    } else if (msg.type === "flag") {
      addAlert({ attemptId: msg.attempt_id, kind: "flag", severity: 2, at: new Date().toISOString() });
    } else if (msg.type === "alert") {
      if (tile && msg.kind.startsWith("phone_")) setPhone(tile, msg.kind === "phone_lost" ? "lost" : "online");
      if (msg.kind === "phone_lost") addAlert({ attemptId: msg.attempt_id, kind: "phone_lost", severity: 3, at: msg.at });
      if (msg.kind === "phone_restored") removeAlerts(msg.attempt_id, "phone_lost");
      if (msg.kind === "desktop_lost") addAlert({ attemptId: msg.attempt_id, kind: "desktop_lost", severity: 3, at: msg.at });
      if (msg.kind === "desktop_restored") removeAlerts(msg.attempt_id, "desktop_lost");
      if (msg.kind === "loud_audio") {
        addAlert({ attemptId: msg.attempt_id, kind: "loud_audio", severity: 2, at: msg.at });
        if (tile && msg.data && msg.data.max_dbfs !== undefined) setAudio(tile, msg.data.max_dbfs);
      }
      if (msg.kind === "voices" && msg.data) {
        // Same key as the incident's own entry (attempt:kind:incident): one line, not two.
        addAlert({ attemptId: msg.attempt_id, kind: msg.data.kind, severity: msg.data.severity || 3, at: msg.at,
          incidentId: msg.data.incident_id });
      }
    } else if (msg.type === "audio") {
      // One delta per attempt every ~2 s: the loudest reading of the window drives the meter.
      if (tile) setAudio(tile, msg.max_dbfs);
    }
  }

  // Initial values from the page (server-rendered), then live.
  const initial = JSON.parse(document.getElementById("tiles-data").textContent);
  initial.forEach((t) => { const el = tiles.get(t.attempt_id); if (el) setAudio(el, t.audio_dbfs); });
  document.querySelectorAll("#alerts .a-kind").forEach((el) => {
    el.closest("li").dataset.key = el.closest("li").dataset.attempt + ":" + el.closest("li").dataset.kind + ":" + (el.closest("li").dataset.incident || "");
  });

  const socket = new Console.ProctorSocket({ ticketUrl: root.dataset.ticketUrl, sessionId, onMessage });
  socket.connect();
  window.consoleSocket = socket;
})();
