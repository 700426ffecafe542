// The /call page: a browser video call with live captions, transcript, screen share and upload.
import { Call, el, joinClauses, problemText, setState as showState, showProblem as problem } from "/static/app.js";

const $ = (id) => document.getElementById(id);
const setState = (text) => showState(text, "Connection: ");
let call = null;
let replies = {}; // turn_id -> {text, node}

function enable(on) {
  for (const id of ["mute", "share", "read", "upload", "hangup", "typed", "send"]) $(id).disabled = !on;
  $("join").disabled = on;
  $("language").disabled = on;
}

function line(who, text, cls) {
  const item = el("li", { class: cls }, "");
  item.append(el("span", { class: "who" }, who + ": "), el("span", { class: "text" }, text));
  $("transcript").append(item);
  item.scrollIntoView({ block: "nearest" });
  return item.querySelector(".text");
}

function wire(c) {
  c.addEventListener("state", (e) => setState(e.detail));
  c.addEventListener("failure", (e) => { problem(e.detail); enable(false); });
  c.addEventListener("transcript.partial", (e) => { $("caller-caption").textContent = e.detail.text; });
  c.addEventListener("transcript.final", (e) => {
    const d = e.detail;
    $("caller-caption").textContent = d.text;
    line("You", d.modality === "screen" ? "[screenshot] " + d.text : d.text, "caller");
  });
  c.addEventListener("reply.text", (e) => {
    const d = e.detail;
    const r = replies[d.turn_id] || (replies[d.turn_id] = { text: "", node: line("Assistant", "", "bot") });
    r.text = joinClauses(r.text, d.text, d.language);
    r.node.textContent = r.text;
    $("reply-caption").textContent = r.text;
  });
  c.addEventListener("handoff", (e) => {
    line("System", e.detail.urgent ? "Connecting you to emergency help now." : "Connecting you to a person.", "system");
  });
  c.addEventListener("verify.required", (e) => line("System", e.detail.prompt, "system"));
  c.addEventListener("error", (e) => {
    if (e.detail && e.detail.code) problem(e.detail.message + " (" + e.detail.code + ")");
  });
  c.addEventListener("session.ended", () => { setState("ended"); enable(false); });
  c.addEventListener("level", (e) => { $("level").style.width = Math.min(100, e.detail * 400) + "%"; });
}

$("join").addEventListener("click", async () => {
  problem("");
  replies = {};
  $("transcript").replaceChildren();
  call = new Call({ channel: "browser", language: $("language").value, camera: true, screenSlot: true });
  window.gatewayCall = call; // for tests and debugging
  wire(call);
  try {
    const media = await call.join($("remote"));
    $("preview").srcObject = media;
    enable(true);
  } catch (err) {
    problem(problemText(err));
    setState("failed");
    if (call) call.hangup();
    enable(false);
  }
});

$("mute").addEventListener("click", () => {
  const muted = $("mute").getAttribute("aria-pressed") !== "true";
  call.mute(muted);
  $("mute").setAttribute("aria-pressed", String(muted));
  $("mute").textContent = muted ? "Unmute" : "Mute";
});

$("share").addEventListener("click", async () => {
  try {
    if (call.screenTrack) { await call.stopScreen(); $("share").textContent = "Share screen"; }
    else { await call.shareScreen(); $("share").textContent = "Stop sharing"; }
  } catch (err) { problem(problemText(err)); }
});

$("read").addEventListener("click", () => {
  if (!call.screenTrack) { problem("Share your screen first, or upload a screenshot."); return; }
  call.readScreen();
});

$("upload").addEventListener("change", async () => {
  const file = $("upload").files[0];
  if (!file) return;
  try { await call.sendImage(file); line("You", "[sent screenshot " + file.name + "]", "caller"); }
  catch (err) { problem(err.message); }
  $("upload").value = "";
});

$("type-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("typed").value.trim();
  if (text) call.sendText(text);
  $("typed").value = "";
});

$("hangup").addEventListener("click", () => { call.hangup(); enable(false); });
setState("not connected");
