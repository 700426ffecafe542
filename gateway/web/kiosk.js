// The /kiosk page: sign, speak or type; captions of everything; YES/NO read-back; call a person;
// an idle reset wipes the conversation from the screen. ?idle=SECONDS (default 90), ?lang=en.
import { Call, joinClauses, problemText, setState, showProblem as problem } from "/static/app.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const IDLE_MS = Math.max(10, Number(params.get("idle")) || 90) * 1000;
// The core's handoff policy hands a caller who asks for a person to a person.
const ASK_FOR_PERSON = "I want to talk to a person";
let call = null;
let idleTimer = null;
let reply = { turn: -1, text: "" };
let signsDone = false; // the last signed turn is finished: the next letter starts a fresh line

function announce(text) {
  $("live").textContent = text;
}

function touch() {
  clearTimeout(idleTimer);
  if (call) idleTimer = setTimeout(reset, IDLE_MS);
}

// Idle or finished: hang up and wipe everything the last person did off the screen.
function reset() {
  clearTimeout(idleTimer);
  if (call) call.hangup();
  call = null;
  window.gatewayCall = null;
  for (const id of ["letters", "words", "caller-caption", "reply-caption", "live", "readback-q", "handoff"]) {
    $(id).textContent = "";
  }
  $("typed").value = "";
  $("preview").srcObject = null;
  $("readback").hidden = true;
  $("handoff").hidden = true;
  $("session").hidden = true;
  $("welcome").hidden = false;
  reply = { turn: -1, text: "" };
  signsDone = false;
  problem("");
  setState("Touch Start, or press Enter");
  document.body.dataset.reset = String(Number(document.body.dataset.reset || 0) + 1);
  $("start").focus();
}

function showReadback(question) {
  $("readback-q").textContent = question;
  $("readback").hidden = false;
  $("yes").focus();
}

function wire(c) {
  for (const type of ["caption", "transcript.partial", "transcript.final", "reply.text", "handoff"]) {
    c.addEventListener(type, touch);
  }
  c.addEventListener("state", (e) => { if (e.detail === "connected") setState("Ready: sign, speak or type"); });
  c.addEventListener("failure", (e) => problem(e.detail));
  c.addEventListener("caption", (e) => {
    const d = e.detail;
    if (signsDone && (d.kind === "sign-letter" || d.kind === "sign-word")) {
      $("letters").textContent = "";
      $("words").textContent = "";
      signsDone = false;
    }
    if (d.kind === "sign-letter") $("letters").textContent += d.text;
    else if (d.kind === "sign-word") {
      $("words").textContent = ($("words").textContent + " " + d.text).trim();
      $("letters").textContent += " ";
      announce("Sign: " + d.text);
    } else if (d.kind === "sign-readback") {
      showReadback(d.text);
      announce(d.text);
    } else if (d.kind === "sign-readback-answer") $("readback").hidden = true;
  });
  c.addEventListener("transcript.partial", (e) => { $("caller-caption").textContent = e.detail.text; });
  c.addEventListener("transcript.final", (e) => {
    $("caller-caption").textContent = e.detail.text;
    announce("You: " + e.detail.text);
    if (e.detail.modality === "sign") signsDone = true;
  });
  c.addEventListener("reply.text", (e) => {
    const d = e.detail;
    if (d.turn_id !== reply.turn) reply = { turn: d.turn_id, text: "" };
    reply.text = joinClauses(reply.text, d.text, d.language);
    $("reply-caption").textContent = reply.text;
    if (d.final) announce("Answer: " + reply.text);
  });
  c.addEventListener("handoff", (e) => {
    $("handoff").textContent = e.detail.urgent ? "Getting emergency help for you now." : "A person will be with you shortly.";
    $("handoff").hidden = false;
  });
  c.addEventListener("error", (e) => { if (e.detail && e.detail.code) problem(e.detail.message); });
}

$("start").addEventListener("click", async () => {
  problem("");
  $("welcome").hidden = true;
  $("session").hidden = false;
  setState("Connecting...");
  call = new Call({ channel: "kiosk", language: params.get("lang") || "auto", camera: true, screenSlot: false });
  window.gatewayCall = call;
  wire(call);
  try {
    const media = await call.join($("remote"));
    $("preview").srcObject = media;
    touch();
    $("person").focus();
  } catch (err) {
    problem(problemText(err));
    setState("Could not start");
  }
});

$("fullscreen").addEventListener("click", () => {
  if (document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(() => {});
});

function confirmSign(yes) {
  if (call) call.send({ type: "sign.confirm", yes });
  $("readback").hidden = true;
  touch();
}
$("yes").addEventListener("click", () => confirmSign(true));
$("no").addEventListener("click", () => confirmSign(false));

$("person").addEventListener("click", () => {
  if (!call) return;
  call.sendText(ASK_FOR_PERSON);
  touch();
});

$("type-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("typed").value.trim();
  if (call && text) call.sendText(text);
  $("typed").value = "";
  touch();
});

$("end").addEventListener("click", reset);
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && call) reset();
  touch();
});
window.kioskReset = reset;
setState("Touch Start, or press Enter");
$("start").focus();
