/* The phone-browser monitor: the same /ws/phone/ protocol as the WeChat mini-program (docs/protocol.md).
 *
 * Pair (pairing token from the QR URL + the desktop's confirm code) → accept the monitoring notice →
 * camera + microphone → one WebSocket: hello, a binary JPEG frame every snapshot_interval_s, audio level
 * batches (dBFS every 100 ms, one batch per second), heartbeats. Frames stay queued (memory + IndexedDB)
 * until the server acks them, which it does only once they are durably stored; after a reconnect the
 * server's resume_from says which ones it already has, the rest are sent again.
 * Plain JS, no build step.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("phone-config").textContent);
  var csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  var $ = function (id) { return document.getElementById(id); };

  var lang = localStorage.getItem("phone-monitor-lang") || config.lang;
  var SNAPSHOT_WINDOW = 2; // snapshots in flight before waiting for an ack
  var MAX_QUEUED_FRAMES = 360; // one hour at 10 s; the oldest beyond that are dropped (and counted)
  var MAX_QUEUED_AUDIO = 600;
  // Codes for which resending the same frame cannot succeed (the server refused its content).
  var PERMANENT = /^(invalid|malformed|frame_too_large|image_|audio_invalid)/;

  var state = {
    token: null,
    pairing: null,
    ws: null,
    wsOpen: false,
    helloOk: null,
    stopped: false,
    backoff: 1000,
    reconnectTimer: null,
    heartbeatTimer: null,
    captureTimer: null,
    audioTimer: null,
    intervalS: 10,
    maxImageBytes: 1048576,
    nextSeq: 1,
    nextAudioSeq: 1,
    frames: new Map(), // seq → {seq, captured_at, bytes}
    inflight: new Set(),
    audio: new Map(), // seq → message
    audioInflight: new Set(),
    pending: [], // requests awaiting their response, in order: {kind, seq}
    lastAcked: 0,
    dropped: 0,
    rejected: [], // the last refusals {kind, seq, code}: for support and tests
    levels: [],
    levelsStartedAt: null,
    framing: null,
    statusKey: "status_connecting",
    statusClass: "connecting",
    command: null,
    wakeLock: null,
    stream: null,
    audioCtx: null,
    analyser: null,
    db: null,
  };

  // --- text ----------------------------------------------------------------------------------------

  function t(key) {
    var entry = config.ui[key];
    return entry ? entry[lang] || entry.zh : key;
  }
  function pick(text) { // a {zh, en} pair from the server
    if (!text) return "";
    if (typeof text === "string") return text;
    return text[lang] || text.zh || text.en || "";
  }
  function renderTexts() {
    document.documentElement.lang = lang === "en" ? "en" : "zh-Hans";
    document.querySelectorAll("[data-t]").forEach(function (el) { el.textContent = t(el.dataset.t); });
    renderNotice();
    if (state.pairing) $("tips-subject").textContent = pick(state.pairing.subject);
    renderStatus();
    renderFraming();
    renderCommand();
  }
  $("lang").addEventListener("click", function () {
    lang = lang === "en" ? "zh" : "en";
    localStorage.setItem("phone-monitor-lang", lang);
    renderTexts();
  });

  function show(step) {
    ["step-identity", "step-notice", "step-monitor"].forEach(function (id) { $(id).hidden = id !== step; });
  }
  // Server messages follow the project's "中文 (English)." convention: show the half of the language.
  function localMessage(message) {
    var m = /^(.*?)\s*\(([^()]*)\)\.?$/.exec(message || "");
    if (!m) return message;
    return lang === "en" ? m[2].charAt(0).toUpperCase() + m[2].slice(1) + "." : m[1];
  }
  function showError(el, body) {
    el.textContent = body && body.message ? localMessage(body.message) : t("error_generic");
    el.dataset.code = body && body.code ? body.code : "";
    el.hidden = false;
  }

  // --- REST (the page's own endpoints; the session cookie carries the paired device) ----------------

  function api(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken, Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { var err = new Error(data.code || "http_" + response.status); err.body = data; throw err; }
        return data;
      });
    }, function () {
      var err = new Error("network"); err.body = { code: "network", message: t("error_network") }; throw err;
    });
  }

  // --- step 1: identity ------------------------------------------------------------------------------

  function startIdentity() {
    $("code-row").hidden = !!state.token;
    show("step-identity");
    $("confirm-code").focus();
  }

  // Two proofs: the confirm code on the desktop screen, or the candidate's ticket + ID number.
  var byIdentity = false;
  function renderProof() {
    $("confirm-row").hidden = byIdentity;
    $("identity-rows").hidden = !byIdentity;
    $("proof-switch").dataset.t = byIdentity ? "use_code" : "use_identity";
    $("proof-switch").textContent = t($("proof-switch").dataset.t);
    $("identity-help").dataset.t = byIdentity ? "identity_help_id" : "identity_help";
    $("identity-help").textContent = t($("identity-help").dataset.t);
  }
  $("proof-switch").addEventListener("click", function () {
    byIdentity = !byIdentity;
    $("identity-error").hidden = true;
    renderProof();
  });

  $("identity-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var token = state.token || $("pairing-code").value.trim();
    var body = { token: token };
    if (byIdentity) {
      body.ticket_number = $("ticket-number").value.trim();
      body.id_number = $("id-number").value.trim();
      if (!token || !body.ticket_number || !body.id_number) {
        showError($("identity-error"), { code: "missing_identity", message: t("missing_identity") });
        return;
      }
    } else {
      body.confirm_code = $("confirm-code").value.trim();
      if (!/^\d{4}$/.test(body.confirm_code) || !token) {
        showError($("identity-error"), { code: "missing_code", message: t("missing_code") });
        return;
      }
    }
    $("identity-error").hidden = true;
    $("pair-button").disabled = true;
    api("POST", config.urls.claim, body).then(function (pairing) {
      $("id-number").value = ""; // not kept on the page longer than needed
      state.token = null; // single use: it is spent now
      onPaired(pairing);
    }, function (err) {
      showError($("identity-error"), err.body);
    }).finally(function () { $("pair-button").disabled = false; });
  });

  function onPaired(pairing) {
    state.pairing = pairing;
    state.intervalS = pairing.snapshot_interval_s;
    if (pairing.consented) startMonitor(); else startNotice();
  }

  // --- step 2: the monitoring notice -----------------------------------------------------------------

  function startNotice() { renderNotice(); show("step-notice"); }

  function renderNotice() {
    var pairing = state.pairing;
    if (!pairing) return;
    $("notice-subject").textContent = pick(pairing.subject);
    $("notice-title").textContent = pick(pairing.notice.title);
    var list = $("notice-items");
    list.textContent = "";
    pairing.notice.items.forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = lang === "en" ? item.en : item.zh;
      list.appendChild(li);
    });
  }

  $("accept-button").addEventListener("click", function () {
    $("accept-button").disabled = true;
    // Created inside the tap: browsers only let a user gesture start audio.
    ensureAudioContext();
    api("POST", config.urls.consent, { notice_version: state.pairing.notice.version, accepted: true })
      .then(function (pairing) { state.pairing = pairing; startMonitor(); },
        function (err) { showError($("notice-error"), err.body); })
      .finally(function () { $("accept-button").disabled = false; });
  });

  // --- step 3: camera, microphone, socket --------------------------------------------------------------

  function ensureAudioContext() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!state.audioCtx && Ctx) state.audioCtx = new Ctx();
    if (state.audioCtx && state.audioCtx.state === "suspended") state.audioCtx.resume();
  }

  function startMonitor() {
    show("step-monitor");
    $("tips-subject").textContent = pick(state.pairing.subject);
    setStatus("status_connecting", "connecting");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showError($("camera-error"), { message: t("camera_unsupported") });
      return;
    }
    navigator.mediaDevices.getUserMedia({
      // Rear camera preferred: the phone stands beside the candidate, its screen facing away.
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
      // Raw levels: echo cancellation / noise suppression would hide the voices we listen for.
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    }).then(function (stream) {
      state.stream = stream;
      var video = $("video");
      video.srcObject = stream;
      return video.play().catch(function () { /* autoplay of a muted video; the stream still renders */ });
    }).then(function () {
      startAudio();
      keepAwake();
      return openQueue();
    }).then(function () {
      connect();
      scheduleCapture(500);
    }).catch(function (err) {
      showError($("camera-error"), { code: err && err.name, message: t("camera_denied") });
      setStatus("status_connecting", "stopped");
    });
  }

  // --- audio levels (Web Audio: AnalyserNode → dBFS every 100 ms, one batch per second) -----------------

  function startAudio() {
    ensureAudioContext();
    var ctx = state.audioCtx;
    if (!ctx || !state.stream.getAudioTracks().length) return;
    var source = ctx.createMediaStreamSource(state.stream);
    var analyser = ctx.createAnalyser();
    analyser.fftSize = 2048;
    source.connect(analyser);
    state.analyser = analyser;
    var buffer = new Float32Array(analyser.fftSize);
    var perBatch = Math.round(config.audio_batch_ms / config.audio_interval_ms);
    state.audioTimer = setInterval(function () {
      // After a reload there was no tap yet: a suspended context reads silence. Send nothing rather
      // than a false "quiet", and ask for the tap that lets the browser start audio.
      if (ctx.state !== "running") { $("audio-resume").hidden = false; return; }
      $("audio-resume").hidden = true;
      analyser.getFloatTimeDomainData(buffer);
      var sum = 0;
      for (var i = 0; i < buffer.length; i++) sum += buffer[i] * buffer[i];
      var rms = Math.sqrt(sum / buffer.length);
      // dBFS of the RMS; silence is clamped to the protocol's floor of -160.
      var db = rms > 0 ? Math.max(-160, Math.min(0, 20 * Math.log10(rms))) : -160;
      db = Math.round(db * 10) / 10;
      if (!state.levels.length) state.levelsStartedAt = new Date().toISOString();
      state.levels.push(db);
      $("stat-level").textContent = db.toFixed(0);
      $("level-meter").value = Math.max(-90, db);
      if (state.levels.length >= perBatch) {
        queueAudio({ type: "audio", seq: state.nextAudioSeq++, interval_ms: config.audio_interval_ms,
          levels: state.levels, started_at: state.levelsStartedAt });
        state.levels = [];
        saveCounters();
      }
    }, config.audio_interval_ms);
  }

  $("audio-resume").addEventListener("click", function () { ensureAudioContext(); });

  function queueAudio(message) {
    state.audio.set(message.seq, message);
    while (state.audio.size > MAX_QUEUED_AUDIO) state.audio.delete(state.audio.keys().next().value);
    saveAudio();
    pump();
  }
  // Unacked level batches are small (ten numbers): localStorage keeps them across a reload.
  function audioKey() { return "phone-monitor-audio:" + state.pairing.device_id; }
  function saveAudio() {
    try { localStorage.setItem(audioKey(), JSON.stringify(Array.from(state.audio.values()))); } catch (e) { /* quota */ }
  }
  function loadAudio() {
    try {
      JSON.parse(localStorage.getItem(audioKey()) || "[]").forEach(function (m) {
        state.audio.set(m.seq, m);
        state.nextAudioSeq = Math.max(state.nextAudioSeq, m.seq + 1);
      });
    } catch (e) { /* ignore */ }
  }

  // --- snapshots ---------------------------------------------------------------------------------------

  function scheduleCapture(delayMs) {
    clearTimeout(state.captureTimer);
    if (state.stopped) return;
    state.captureTimer = setTimeout(function () {
      capture().finally(function () { scheduleCapture(state.intervalS * 1000); });
    }, delayMs);
  }

  function capture() {
    var video = $("video");
    if (!video.videoWidth) return Promise.resolve();
    // 640 px on the long side: what the framing analysis works on, ~40–80 KB per JPEG.
    var scale = Math.min(1, 640 / Math.max(video.videoWidth, video.videoHeight));
    var canvas = $("canvas");
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    var capturedAt = new Date().toISOString();
    return toJpeg(canvas, 0.82).then(function (blob) {
      if (blob.size > state.maxImageBytes) return toJpeg(canvas, 0.5);
      return blob;
    }).then(function (blob) { return blob.arrayBuffer(); }).then(function (bytes) {
      var frame = { seq: state.nextSeq++, captured_at: capturedAt, bytes: bytes };
      saveCounters();
      state.frames.set(frame.seq, frame);
      idbPut(frame);
      while (state.frames.size > MAX_QUEUED_FRAMES) {
        var oldest = state.frames.keys().next().value;
        state.frames.delete(oldest); idbDelete(oldest); state.dropped++;
      }
      renderStats();
      pump();
    });
  }

  function toJpeg(canvas, quality) {
    return new Promise(function (resolve, reject) {
      canvas.toBlob(function (blob) { blob ? resolve(blob) : reject(new Error("toBlob")); }, "image/jpeg", quality);
    });
  }

  function snapshotFrame(frame) {
    // Binary frame: 4-byte big-endian header length, the JSON header, then the JPEG (monitor.protocol).
    var header = new TextEncoder().encode(JSON.stringify({ type: "snapshot", seq: frame.seq, captured_at: frame.captured_at }));
    var out = new Uint8Array(4 + header.length + frame.bytes.byteLength);
    new DataView(out.buffer).setUint32(0, header.length, false);
    out.set(header, 4);
    out.set(new Uint8Array(frame.bytes), 4 + header.length);
    return out.buffer;
  }

  // --- the unacked queue survives a reload (IndexedDB; memory only where it is unavailable) --------------

  function counterKey() { return "phone-monitor-seq:" + state.pairing.device_id; }
  function saveCounters() {
    try { localStorage.setItem(counterKey(), JSON.stringify({ seq: state.nextSeq, audio: state.nextAudioSeq })); } catch (e) { /* private mode */ }
  }
  function loadCounters() {
    try {
      var saved = JSON.parse(localStorage.getItem(counterKey()) || "{}");
      state.nextSeq = Math.max(state.nextSeq, saved.seq || 1);
      state.nextAudioSeq = Math.max(state.nextAudioSeq, saved.audio || 1);
    } catch (e) { /* ignore */ }
  }

  function openQueue() {
    loadCounters();
    loadAudio();
    return new Promise(function (resolve) {
      if (!window.indexedDB) return resolve();
      var request = indexedDB.open("cloud-monitor", 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore("frames", { keyPath: "key" }).createIndex("device", "device");
      };
      request.onerror = function () { resolve(); };
      request.onsuccess = function () {
        state.db = request.result;
        var index = state.db.transaction("frames").objectStore("frames").index("device");
        var all = index.getAll(state.pairing.device_id);
        all.onsuccess = function () {
          all.result.sort(function (a, b) { return a.seq - b.seq; }).forEach(function (row) {
            state.frames.set(row.seq, { seq: row.seq, captured_at: row.captured_at, bytes: row.bytes });
            state.nextSeq = Math.max(state.nextSeq, row.seq + 1);
          });
          renderStats();
          resolve();
        };
        all.onerror = function () { resolve(); };
      };
    });
  }
  function idbPut(frame) {
    if (!state.db) return;
    try {
      state.db.transaction("frames", "readwrite").objectStore("frames").put({
        key: state.pairing.device_id + ":" + frame.seq, device: state.pairing.device_id,
        seq: frame.seq, captured_at: frame.captured_at, bytes: frame.bytes,
      });
    } catch (e) { /* quota: memory still holds it */ }
  }
  function idbDelete(seq) {
    if (!state.db) return;
    try { state.db.transaction("frames", "readwrite").objectStore("frames").delete(state.pairing.device_id + ":" + seq); } catch (e) { /* ignore */ }
  }

  // --- the socket --------------------------------------------------------------------------------------

  function connect() {
    if (state.stopped || state.ws) return;
    clearTimeout(state.reconnectTimer);
    api("POST", config.urls.ticket).then(function (issued) {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var ws = new WebSocket(scheme + location.host + issued.ws_path + "?ticket=" + encodeURIComponent(issued.ticket));
      ws.binaryType = "arraybuffer";
      state.ws = ws;
      ws.onopen = function () {
        state.wsOpen = true;
        send({ type: "hello", version: config.protocol_version, device: deviceInfo() });
      };
      ws.onmessage = function (event) {
        if (typeof event.data !== "string") return;
        var message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        onMessage(message);
      };
      ws.onclose = function (event) { onClose(ws, event.code); };
      ws.onerror = function () { /* onclose follows */ };
    }, function (err) {
      var code = err.body && err.body.code;
      if (code === "device_revoked") return stop("status_replaced");
      if (code === "browser_not_paired") return stop("status_auth");
      retryLater();
    });
  }

  function deviceInfo() {
    var ua = navigator.userAgent || "";
    return { platform: "browser", model: (navigator.platform || "").slice(0, 64), system: ua.slice(0, 64), app_version: "web-1" };
  }

  function send(message) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
    state.ws.send(typeof message === "string" || message instanceof ArrayBuffer ? message : JSON.stringify(message));
    return true;
  }

  function onMessage(message) {
    switch (message.type) {
      case "hello_ok": return onHelloOk(message);
      case "ack": return onAck(message);
      case "audio_ack": return onAudioAck(message);
      case "heartbeat_ack": return settle("heartbeat", null);
      case "framing": state.framing = message; return renderFraming();
      case "command": return onCommand(message);
      case "status": return onStatus(message.state || {});
      case "error": return onError(message);
      default: return undefined; // newer server messages are ignored, never fatal
    }
  }

  function onHelloOk(message) {
    state.helloOk = message;
    state.backoff = 1000;
    state.intervalS = message.snapshot_interval_s || state.intervalS;
    state.maxImageBytes = message.max_image_bytes || state.maxImageBytes;
    // The server already holds everything up to resume_from: forget it, resend the rest.
    state.frames.forEach(function (frame, seq) { if (seq <= message.resume_from) { state.frames.delete(seq); idbDelete(seq); } });
    state.audio.forEach(function (m, seq) { if (seq <= message.audio_resume_from) state.audio.delete(seq); });
    saveAudio();
    state.nextSeq = Math.max(state.nextSeq, message.resume_from + 1);
    state.nextAudioSeq = Math.max(state.nextAudioSeq, message.audio_resume_from + 1);
    state.lastAcked = Math.max(state.lastAcked, message.resume_from);
    saveCounters();
    setStatus("status_monitoring", "monitoring");
    clearInterval(state.heartbeatTimer);
    state.heartbeatTimer = setInterval(heartbeat, Math.max(1, message.heartbeat_interval_s) * 1000);
    renderStats();
    pump();
  }

  function heartbeat() {
    var message = { type: "heartbeat" };
    var done = function () { if (send(message)) state.pending.push({ kind: "heartbeat", seq: null }); };
    if (navigator.getBattery) {
      navigator.getBattery().then(function (b) {
        message.battery = Math.round(b.level * 100); message.charging = !!b.charging; done();
      }, done);
    } else { done(); }
  }

  function pump() {
    if (!state.helloOk || !state.ws || state.ws.readyState !== WebSocket.OPEN) return;
    var seqs = Array.from(state.frames.keys()).sort(function (a, b) { return a - b; });
    for (var i = 0; i < seqs.length && state.inflight.size < SNAPSHOT_WINDOW; i++) {
      var seq = seqs[i];
      if (state.inflight.has(seq)) continue;
      if (send(snapshotFrame(state.frames.get(seq)))) { state.inflight.add(seq); state.pending.push({ kind: "snapshot", seq: seq }); }
    }
    var audioSeqs = Array.from(state.audio.keys()).sort(function (a, b) { return a - b; });
    for (var j = 0; j < audioSeqs.length && state.audioInflight.size < 2; j++) {
      var aseq = audioSeqs[j];
      if (state.audioInflight.has(aseq)) continue;
      if (send(state.audio.get(aseq))) { state.audioInflight.add(aseq); state.pending.push({ kind: "audio", seq: aseq }); }
    }
    renderStats();
  }

  // Remove the pending request a response answers (by kind and seq; else the oldest of the kind).
  function settle(kind, seq) {
    for (var i = 0; i < state.pending.length; i++) {
      var p = state.pending[i];
      if ((kind === null || p.kind === kind) && (seq === null || p.seq === seq)) return state.pending.splice(i, 1)[0];
    }
    return null;
  }

  function onAck(message) {
    settle("snapshot", message.seq);
    state.inflight.delete(message.seq);
    if (state.frames.delete(message.seq)) idbDelete(message.seq);
    state.lastAcked = Math.max(state.lastAcked, message.seq);
    pump();
  }

  function onAudioAck(message) {
    settle("audio", message.seq);
    state.audioInflight.delete(message.seq);
    state.audio.delete(message.seq);
    saveAudio();
    pump();
  }

  function onError(message) {
    // The server answers in order; an error without seq answers the oldest pending request.
    var request = message.seq != null ? settle(null, message.seq) : state.pending.shift();
    if (message.code === "rate_limited") {
      if (request) { state.inflight.delete(request.seq); state.audioInflight.delete(request.seq); }
      setTimeout(pump, 1500);
      return;
    }
    state.rejected.push({ kind: request ? request.kind : null, seq: request ? request.seq : null, code: message.code });
    if (state.rejected.length > 50) state.rejected.shift();
    if (!request || request.kind === "heartbeat") return;
    if (request.kind === "snapshot") {
      state.inflight.delete(request.seq);
      if (PERMANENT.test(message.code || "")) { state.frames.delete(request.seq); idbDelete(request.seq); state.dropped++; }
      setTimeout(pump, 1000);
    } else if (request.kind === "audio") {
      state.audioInflight.delete(request.seq);
      if (PERMANENT.test(message.code || "")) { state.audio.delete(request.seq); saveAudio(); }
      setTimeout(pump, 1000);
    }
  }

  function onCommand(message) {
    send({ type: "command_ack", command_id: message.command_id }); // delivery receipt
    state.command = message;
    renderCommand();
    if (message.command === "exam_ended") stop("status_ended");
  }
  $("command-ok").addEventListener("click", function () { state.command = null; renderCommand(); });

  function onStatus(attemptState) {
    var ended = ["submitted", "force_submitted", "disqualified", "absent"];
    if (ended.indexOf(attemptState.status) >= 0) stop("status_ended");
  }

  function onClose(ws, code) {
    if (state.ws !== ws) return;
    state.ws = null; state.wsOpen = false; state.helloOk = null;
    state.inflight.clear(); state.audioInflight.clear(); state.pending = [];
    clearInterval(state.heartbeatTimer);
    if (state.stopped) return;
    if (code === 4003) return stop("status_replaced"); // DEVICE_REPLACED
    if (code === 4004) return stop("status_replaced"); // SUPERSEDED: this page is open elsewhere
    if (code === 4010) return stop("status_ended"); // ATTEMPT_ENDED
    if (code === 4002) return stop("status_update"); // UNSUPPORTED_VERSION
    retryLater();
  }

  function retryLater() {
    if (state.stopped) return;
    setStatus("status_reconnecting", "reconnecting");
    var delay = state.backoff * (0.8 + Math.random() * 0.4);
    state.backoff = Math.min(state.backoff * 2, 15000);
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = setTimeout(connect, delay);
  }

  function stop(statusKey) {
    state.stopped = true;
    clearTimeout(state.reconnectTimer); clearTimeout(state.captureTimer);
    clearInterval(state.heartbeatTimer); clearInterval(state.audioTimer);
    if (state.ws) { var ws = state.ws; state.ws = null; ws.close(1000); }
    if (state.stream) state.stream.getTracks().forEach(function (track) { track.stop(); });
    if (state.wakeLock) state.wakeLock.release().catch(function () {});
    $("guidance").hidden = true; // no picture any more: nothing to frame
    setStatus(statusKey, "stopped");
  }

  // Back from the background (screen on again): reconnect now instead of waiting for the backoff.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible" || state.stopped || !state.pairing) return;
    if (state.stream) keepAwake();
    if (!state.ws && state.stream) { state.backoff = 1000; connect(); }
  });
  window.addEventListener("online", function () { if (!state.ws && state.stream && !state.stopped) connect(); });

  // --- screen awake --------------------------------------------------------------------------------------

  function keepAwake() {
    if (!("wakeLock" in navigator)) { $("wake-hint").hidden = false; return; }
    navigator.wakeLock.request("screen").then(function (lock) {
      state.wakeLock = lock;
      $("wake-hint").hidden = true;
    }, function () { $("wake-hint").hidden = false; });
  }

  // --- rendering -------------------------------------------------------------------------------------------

  function setStatus(key, cls) { state.statusKey = key; state.statusClass = cls; renderStatus(); }
  function renderStatus() {
    var el = $("status");
    el.textContent = t(state.statusKey);
    el.className = "status " + state.statusClass;
    el.dataset.state = state.statusClass;
  }
  function renderStats() {
    $("stat-acked").textContent = String(state.lastAcked);
    $("stat-queued").textContent = String(state.frames.size);
  }
  function renderFraming() {
    var el = $("guidance");
    var f = state.framing;
    el.textContent = "";
    if (!f) { el.className = "guidance wait"; el.textContent = t("framing_wait"); return; }
    el.className = "guidance " + (f.ok ? "ok" : "bad");
    el.dataset.ok = f.ok ? "1" : "0";
    el.dataset.seq = String(f.seq);
    if (f.ok || !f.guidance || !f.guidance.length) { el.textContent = "✓ " + t("framing_ok"); return; }
    var ul = document.createElement("ul");
    f.guidance.forEach(function (g) {
      var li = document.createElement("li");
      li.textContent = pick(g);
      ul.appendChild(li);
    });
    el.appendChild(ul);
  }
  function renderCommand() {
    var c = state.command;
    $("command").hidden = !c;
    if (c) $("command-text").textContent = pick(c.text);
  }

  // --- start -------------------------------------------------------------------------------------------------

  (function start() {
    var params = new URLSearchParams(location.search);
    state.token = params.get("t");
    if (state.token) {
      // Out of the address bar and history: a screenshot or a shared tab must not carry it.
      params.delete("t");
      var rest = params.toString();
      history.replaceState(null, "", location.pathname + (rest ? "?" + rest : ""));
    }
    renderTexts();
    api("GET", config.urls.state).then(function (pairing) {
      // A reload of an already paired page continues; a fresh QR token always pairs again.
      if (state.token || !pairing.paired) startIdentity(); else onPaired(pairing);
    }, function () { startIdentity(); });
  })();

  window.__phoneMonitor = state; // for tests and support: read-only inspection
})();
