/* The candidate view: live side view, slideshow, timeline, and the proctor's actions. */
"use strict";

(() => {
  const root = document.getElementById("attempt-root");
  if (!root) return;
  const attemptId = Number(root.dataset.attempt);
  const sessionId = Number(root.dataset.session);
  const imageUrl = (id) => root.dataset.snapshotUrl.replace("/0/", "/" + id + "/");
  const commandUrl = root.dataset.commandUrl;
  const L = Console.L;
  const data = (id) => JSON.parse(document.getElementById(id).textContent);

  // --- slideshow -------------------------------------------------------------------------------
  let frames = data("snapshots-data");
  let pos = Math.max(0, frames.length - 1);
  let timer = null;
  const ssImg = document.getElementById("ss-image");
  const ssRange = document.getElementById("ss-range");
  const playBtn = document.getElementById("ss-play");

  function show(i) {
    if (!frames.length) return;
    pos = Math.max(0, Math.min(frames.length - 1, i));
    const f = frames[pos];
    ssImg.src = imageUrl(f.id);
    ssImg.hidden = false;
    ssImg.classList.toggle("failed-frame", f.passed === false);
    document.getElementById("ss-empty").hidden = true;
    ssRange.max = String(frames.length - 1);
    ssRange.value = String(pos);
    document.getElementById("ss-pos").textContent = (pos + 1) + " / " + frames.length + " · " + Console.fmtTime(f.at);
  }
  function stop() { clearInterval(timer); timer = null; playBtn.textContent = playBtn.dataset.play || playBtn.textContent; }
  playBtn.dataset.play = playBtn.textContent;
  playBtn.addEventListener("click", () => {
    if (timer) return stop();
    if (pos >= frames.length - 1) pos = -1;
    const speed = Number(document.getElementById("ss-speed").value) || 1;
    playBtn.textContent = "❚❚";
    // Frames are taken every few seconds; "1×" shows one frame a second, "10×" ten.
    timer = setInterval(() => { if (pos >= frames.length - 1) stop(); else show(pos + 1); }, 1000 / speed);
  });
  document.getElementById("ss-speed").addEventListener("change", () => { if (timer) { stop(); playBtn.click(); } });
  document.getElementById("ss-prev").addEventListener("click", () => { stop(); show(pos - 1); });
  document.getElementById("ss-next").addEventListener("click", () => { stop(); show(pos + 1); });
  ssRange.addEventListener("input", () => { stop(); show(Number(ssRange.value)); });
  show(pos);

  function jumpToSnapshot(id) {
    const i = frames.findIndex((f) => f.id === id);
    if (i >= 0) { stop(); show(i); document.querySelector(".slideshow").scrollIntoView({ block: "nearest" }); }
  }

  // --- timeline --------------------------------------------------------------------------------
  const timelineEl = document.getElementById("timeline");
  function describe(e) {
    const d = e.data || {};
    const parts = [];
    if (d.category) parts.push(L.category[d.category] || d.category);
    if (d.message) parts.push(Console.kindLabel(d.message));
    if (d.reason && e.kind !== "warn") parts.push(d.reason);
    if (d.note) parts.push(d.note);
    if (d.status && e.source === "incident") parts.push((d.occurrences || 1) + "×");
    if (d.verdict) parts.push(d.verdict);
    return parts.join(" · ");
  }
  function renderTimeline(entries) {
    timelineEl.replaceChildren(...entries.slice().reverse().map((e) => {
      const li = document.createElement("li");
      li.className = "sev-" + e.severity + " src-" + e.source;
      li.dataset.kind = e.kind;
      const t = document.createElement("time");
      t.textContent = Console.fmtTime(e.at);
      const k = document.createElement("span");
      k.className = "t-kind";
      k.textContent = Console.kindLabel(e.kind.replace(/^command:/, ""));
      const who = document.createElement("span");
      who.className = "t-actor";
      who.textContent = (Console.L.actor || {})[e.actor] || e.actor;
      const desc = document.createElement("span");
      desc.className = "t-desc";
      desc.textContent = describe(e);
      li.append(t, k, desc, who);
      const snaps = (e.data && e.data.snapshot_ids) || (e.evidence && e.evidence.snapshots) || [];
      if (snaps.length) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "btn-link";
        b.textContent = "▶";
        b.addEventListener("click", () => jumpToSnapshot(Number(snaps[0])));
        li.append(b);
      }
      return li;
    }));
  }
  renderTimeline(data("timeline-data"));

  let refreshTimer = null;
  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      const res = await fetch(root.dataset.timelineUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!res.ok) return;
      const body = await res.json();
      renderTimeline(body.timeline);
      const atEnd = pos >= frames.length - 1;
      frames = body.snapshots;
      if (atEnd && !timer) show(frames.length - 1);
      renderIncidents(body.incidents);
    }, 300);
  }

  // --- incidents -------------------------------------------------------------------------------
  const incidentsEl = document.getElementById("incidents");
  function renderIncidents(list) {
    incidentsEl.replaceChildren(...(list.length ? list : [null]).map((i) => {
      const li = document.createElement("li");
      if (!i) { li.className = "muted none"; li.textContent = "—"; return li; }
      li.className = "sev-" + i.severity;
      li.dataset.incident = i.id;
      const k = document.createElement("span");
      k.className = "i-kind";
      k.textContent = Console.kindLabel(i.kind);
      li.append(k);
      return li;
    }));
    decorateIncidents();
  }
  function decorateIncidents() {
    incidentsEl.querySelectorAll("li[data-incident]").forEach((li) => {
      if (li.querySelector("button")) return;
      const id = Number(li.dataset.incident);
      for (const [type, label, cls] of [["incident_confirm", "✓", "btn-danger"], ["incident_dismiss", "✗", ""]]) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "btn btn-sm " + cls;
        b.dataset.type = type;
        b.textContent = label + " " + Console.kindLabel(type);
        b.addEventListener("click", () => run({ type, incident_id: id, note: document.getElementById("incident-note").value.trim() }));
        li.append(b);
      }
    });
  }
  decorateIncidents();

  // --- live state ------------------------------------------------------------------------------
  function applyState(raw) {
    if (Console.staleState(document.getElementById("status-pill"), raw)) return;
    const state = Console.normaliseState(raw);
    if (state.status) {
      const pill = document.getElementById("status-pill");
      pill.className = "pill status status-" + state.status;
      pill.textContent = Console.statusLabel(state.status);
      const ended = ["submitted", "force_submitted", "disqualified", "absent"].includes(state.status);
      document.querySelectorAll(".actions-panel [data-command], #warn-form button").forEach((b) => {
        if (b.dataset.command !== "disqualify") b.disabled = ended;
      });
    }
    if (state.screen_leaves !== undefined) document.getElementById("c-leaves").textContent = state.screen_leaves;
    if (state.warnings && typeof state.warnings === "object") {
      document.querySelectorAll(".attempt-head .counter.warn").forEach((c) => { c.querySelector("b").textContent = state.warnings[c.dataset.cat] || 0; });
    }
    if (state.phone) {
      const el = document.getElementById("phone-state");
      el.className = "phone phone-" + state.phone;
      el.querySelector(".phone-label").textContent = Console.phoneLabel(state.phone);
    }
    if (state.break_requested !== undefined) {
      const el = document.getElementById("break-state");
      el.textContent = state.break_requested ? Console.kindLabel("break_requested") : "—";
      el.classList.toggle("attention", !!state.break_requested);
    }
  }

  const sentList = document.getElementById("sent-warnings");
  function onMessage(msg) {
    if (msg.type === "session_state") {
      const mine = (msg.attempts || []).find((a) => (a.attempt_id ?? a.id) === attemptId);
      if (mine) applyState(mine);
      return;
    }
    if (msg.attempt_id !== attemptId) return;
    if (msg.type === "attempt") {
      applyState(msg.state || {});
      (msg.events || []).forEach((e) => {
        if (e.kind === "warning_ack") {
          const li = sentList.querySelector("li.pending");
          if (li) { li.classList.replace("pending", "acked"); li.querySelector(".w-state").textContent = L.ui.ack + " " + Console.fmtTime(e.created_at); }
          Console.toast(L.ui.ack, "ok");
        }
        if (e.kind === "break_request") Console.toast(Console.kindLabel("break_requested"), "warn");
      });
      refreshSoon();
    } else if (msg.type === "snapshot") {
      const live = document.getElementById("live-image");
      const next = new Image();
      next.onload = () => { live.src = next.src; live.hidden = false; document.getElementById("live-empty").hidden = true; };
      next.src = imageUrl(msg.snapshot_id);
      document.getElementById("live-time").textContent = Console.fmtTime(msg.received_at);
      const atEnd = pos >= frames.length - 1;
      frames.push({ id: msg.snapshot_id, seq: msg.seq, at: msg.received_at, passed: null });
      if (atEnd && !timer) show(frames.length - 1); else ssRange.max = String(frames.length - 1);
    } else if (msg.type === "flag" || msg.type === "alert") {
      refreshSoon();
    }
  }

  const socket = new Console.ProctorSocket({ ticketUrl: root.dataset.ticketUrl, sessionId, onMessage });
  socket.connect();
  window.consoleSocket = socket;

  // --- actions ---------------------------------------------------------------------------------
  async function run(msg) {
    try {
      await socket.command(Object.assign({ attempt_id: attemptId }, msg), commandUrl);
      Console.toast(L.ui.sent, "ok");
      refreshSoon();
      return true;
    } catch (e) {
      Console.toast(L.ui.failed + ": " + (e.message || e.code), "error");
      return false;
    }
  }

  const phrase = document.getElementById("warn-phrase");
  const text = document.getElementById("warn-text");
  const category = document.getElementById("warn-category");
  function pickPhrase() {
    const opt = phrase.selectedOptions[0];
    const p = L.phrases.find((x) => x.code === phrase.value);
    text.value = p ? p.text : "";
    category.value = opt.dataset.category;
  }
  phrase.addEventListener("change", pickPhrase);
  pickPhrase();
  document.getElementById("warn-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const message = text.value.trim();
    if (!message) { Console.toast(L.ui.reason_required, "error"); return; }
    const ok = await run({ type: "warn", category: category.value, message });
    if (ok) {
      const li = document.createElement("li");
      li.className = "pending";
      li.innerHTML = '<span class="w-text"></span><span class="w-state"></span>';
      li.querySelector(".w-text").textContent = Console.fmtTime(new Date().toISOString()) + " " + message;
      li.querySelector(".w-state").textContent = L.ui.warning_sent;
      sentList.prepend(li);
    }
  });

  document.querySelectorAll(".actions-panel [data-command]").forEach((b) => {
    b.addEventListener("click", async () => {
      const type = b.dataset.command;
      const reason = document.getElementById("end-reason").value.trim();
      if (type === "force_submit") {
        if (!window.confirm(L.ui.confirm_force)) return;
        await run(reason ? { type, note: reason } : { type });
      } else if (type === "disqualify") {
        if (!reason) { Console.toast(L.ui.reason_required, "error"); document.getElementById("end-reason").focus(); return; }
        if (!window.confirm(L.ui.confirm_disqualify)) return;
        await run({ type, note: reason });
      } else {
        await run({ type });
      }
    });
  });
})();
