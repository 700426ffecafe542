// Shared browser side of a call: the gateway WebSocket (protocol v1, docs/protocol.md) for
// signalling and events, one RTCPeerConnection for the media (docs/webrtc.md). Standard APIs
// only (Chromium and Firefox). Events from the gateway are re-dispatched as DOM events named by
// their `type` ("transcript.final", "reply.text", "caption", "error", ...).

// Every page has a #state line (connection state, also on <body data-state> for tests and CSS)
// and a #problem box that is hidden while empty.
export function setState(text, label = "") {
  document.getElementById("state").textContent = label + text;
  document.body.dataset.state = text;
}

export function showProblem(text) {
  const box = document.getElementById("problem");
  box.textContent = text;
  box.hidden = !text;
}

export function gatewayUrl() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  return scheme + location.host + "/ws";
}

const PROBLEMS = {
  NotAllowedError: "Microphone or camera permission was denied. Allow access for this site in the browser settings, then press Join again.",
  NotFoundError: "No microphone (or camera) was found. Connect one, then press Join again.",
  NotReadableError: "The microphone or camera is in use by another program.",
  SecurityError: "This page needs a secure (https) address to use the microphone.",
};

export function problemText(err) {
  return PROBLEMS[err && err.name] || ("Something went wrong: " + (err && err.message ? err.message : err));
}

export class Call extends EventTarget {
  // channel: "browser" | "kiosk"; camera: send the camera; screenSlot: reserve the screen m-line.
  constructor({ channel = "browser", language = "auto", camera = true, screenSlot = true } = {}) {
    super();
    this.channel = channel;
    this.language = language;
    this.camera = camera;
    this.screenSlot = screenSlot;
    this.ws = null;
    this.pc = null;
    this.media = null;
    this.events = null; // the "events" data channel
    this.screenSender = null;
    this.screenTrack = null;
    this.remote = new MediaStream();
    this.sessionId = null;
    this.ended = false;
    this.level = { max: 0, audibleMs: 0 }; // reply audio heard on the inbound track
    this._waiters = [];
    this._meter = null;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  state(text) {
    this.emit("state", text);
  }

  // Joins: WebSocket session first (events work even if media fails), then devices, then WebRTC.
  async join(audioElement) {
    this.state("connecting");
    await this._openSocket();
    this.send({
      type: "session.start", v: 1, channel: this.channel, language: this.language,
      audio: { encoding: "pcm16", sample_rate: 48000 },
    });
    const started = await this._next("session.started", 15000);
    this.sessionId = started.session_id;
    this.state("getting microphone" + (this.camera ? " and camera" : ""));
    this.media = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      video: this.camera ? { width: 640, height: 480 } : false,
    });
    await this._connectMedia(audioElement);
    return this.media;
  }

  async _openSocket() {
    const ws = new WebSocket(gatewayUrl());
    this.ws = ws;
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error("cannot reach the gateway at " + gatewayUrl()));
    });
    ws.onmessage = (m) => {
      if (typeof m.data !== "string") return; // reply audio comes on the WebRTC track instead
      let event;
      try { event = JSON.parse(m.data); } catch { return; }
      this._waiters = this._waiters.filter((w) => !(w.type === event.type && (w.resolve(event), true)));
      this.emit(event.type, event);
    };
    ws.onclose = () => {
      if (!this.ended) this.emit("failure", "The connection to the gateway was lost. Press Join to call again.");
      this._stopMedia();
    };
  }

  _next(type, timeoutMs) {
    return new Promise((resolve, reject) => {
      const waiter = { type, resolve };
      this._waiters.push(waiter);
      setTimeout(() => {
        this._waiters = this._waiters.filter((w) => w !== waiter);
        reject(new Error("no " + type + " from the gateway in time"));
      }, timeoutMs);
    });
  }

  async _connectMedia(audioElement) {
    this.state("connecting media");
    const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: "max-bundle" });
    this.pc = pc;
    // m-line order is the contract with the gateway: audio, camera, screen (docs/webrtc.md).
    const mic = this.media.getAudioTracks()[0];
    pc.addTransceiver(mic, { direction: "sendrecv", streams: [this.media] });
    if (this.camera) {
      const cam = this.media.getVideoTracks()[0];
      if (cam) pc.addTransceiver(cam, { direction: "sendonly", streams: [this.media] });
      else pc.addTransceiver("video", { direction: "sendonly" });
    }
    if (this.screenSlot) this.screenSender = pc.addTransceiver("video", { direction: "sendonly" }).sender;
    this.events = pc.createDataChannel("events");
    pc.ontrack = (e) => {
      this.remote.addTrack(e.track);
      if (audioElement) {
        audioElement.srcObject = this.remote; // Chromium feeds Web Audio only from a playing element
        audioElement.play().catch(() => {});
      }
      this._startMeter();
    };
    pc.onconnectionstatechange = () => {
      this.state(pc.connectionState);
      if (pc.connectionState === "failed") {
        this.emit("failure", "The media connection failed (audio and video). Check the network or firewall, then press Join again.");
      }
    };
    await pc.setLocalDescription(await pc.createOffer());
    await this._gathered(pc);
    this.send({ type: "webrtc.offer", sdp: pc.localDescription.sdp });
    const answer = await this._next("webrtc.answer", 20000);
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  }

  // The gateway takes one complete offer (no trickle ICE): wait for gathering, at most 3 s.
  _gathered(pc) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
      pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, 3000);
    });
  }

  _startMeter() {
    if (this._meter) return;
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 2048;
    ctx.createMediaStreamSource(this.remote).connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    this._meter = setInterval(() => {
      if (ctx.state === "suspended") ctx.resume().catch(() => {});
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += v * v;
      const rms = Math.sqrt(sum / buf.length);
      this.level.max = Math.max(this.level.max, rms);
      if (rms > 0.01) this.level.audibleMs += 100;
      this.emit("level", rms);
    }, 100);
    this._audioContext = ctx;
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  sendText(text) {
    this.send({ type: "text", text });
  }

  mute(muted) {
    if (this.media) for (const t of this.media.getAudioTracks()) t.enabled = !muted;
  }

  async shareScreen() {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    this.screenTrack = stream.getVideoTracks()[0];
    await this.screenSender.replaceTrack(this.screenTrack); // no renegotiation: the m-line exists
    this.screenTrack.onended = () => this.stopScreen();
  }

  async stopScreen() {
    if (this.screenTrack) this.screenTrack.stop();
    this.screenTrack = null;
    if (this.screenSender) await this.screenSender.replaceTrack(null);
  }

  // Asks the gateway to read the shared screen now (over the data channel).
  readScreen() {
    if (this.events && this.events.readyState === "open") this.events.send(JSON.stringify({ type: "screen.capture" }));
  }

  // A screenshot file goes over the WebSocket as an `image` message (1 MiB frame cap).
  async sendImage(file) {
    if (file.size > 700000) throw new Error("The image is too large (over 700 kB). Crop it or save it as PNG with fewer colours.");
    const data = await new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
    this.send({ type: "image", mime: file.type, data });
  }

  hangup() {
    this.ended = true;
    this.send({ type: "session.end" });
    this._stopMedia();
    if (this.ws) setTimeout(() => this.ws.close(), 500);
    this.state("ended");
  }

  _stopMedia() {
    if (this._meter) clearInterval(this._meter);
    this._meter = null;
    if (this._audioContext) this._audioContext.close().catch(() => {});
    if (this.media) for (const t of this.media.getTracks()) t.stop();
    if (this.screenTrack) this.screenTrack.stop();
    if (this.pc) this.pc.close();
  }
}

// Joins text pieces of one reply: no spaces between Chinese/Japanese clauses.
export function joinClauses(a, b, language) {
  if (!a) return b;
  return ["zh", "yue", "ja"].includes(language) ? a + b : a + " " + b;
}

export function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}
