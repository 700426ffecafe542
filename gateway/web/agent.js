// The /agent page: a person takes waiting calls over (agent.* messages, docs/protocol.md).
import { el, gatewayUrl, setState, showProblem as problem } from "/static/app.js";

const $ = (id) => document.getElementById(id);
let ws = null;
let replyNode = null;
let replyTurn = -1;

function send(message) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
}

function line(who, text, cls) {
  const item = el("li", { class: cls });
  item.append(el("span", { class: "who" }, who + ": "), el("span", { class: "text" }, text));
  $("transcript").append(item);
  return item.querySelector(".text");
}

function showQueue(waiting) {
  const rows = waiting.map((w) => {
    const row = el("tr", w.urgent ? { class: "urgent" } : {});
    row.append(el("td", {}, w.session_id), el("td", {}, (w.urgent ? "URGENT: " : "") + w.reason),
               el("td", {}, Math.round(w.waited_s) + " s"));
    const cell = el("td");
    const take = el("button", { type: "button", "aria-label": "Take session " + w.session_id }, "Take");
    take.addEventListener("click", () => send({ type: "agent.take", session_id: w.session_id }));
    cell.append(take);
    row.append(cell);
    return row;
  });
  $("queue").replaceChildren(...rows);
  $("next").disabled = waiting.length === 0;
}

function showSession(s) {
  for (const row of $("queue").querySelectorAll("tr")) {
    if (row.firstChild && row.firstChild.textContent === s.session_id) row.remove(); // taken: no longer waiting
  }
  $("taken").hidden = false;
  $("taken-id").textContent = s.session_id;
  $("taken-meta").textContent = `${s.channel} · ${s.language} · ${s.urgent ? "URGENT · " : ""}${s.reason}`;
  $("package").textContent = JSON.stringify(s.package, null, 2);
  $("transcript").replaceChildren();
  replyTurn = -1;
  for (const t of s.transcript) line(t.speaker, t.text, t.speaker === "caller" ? "caller" : "bot");
  $("say").focus();
}

function onEvent(e) {
  if (e.type === "transcript.final") line("caller", e.text, "caller");
  else if (e.type === "caption" && e.kind === "sign-word") line("caller (sign)", e.text, "caller");
  else if (e.type === "reply.text") {
    if (e.turn_id !== replyTurn) { replyTurn = e.turn_id; replyNode = line("spoken", "", "bot"); }
    replyNode.textContent = (replyNode.textContent + " " + e.text).trim();
  } else if (e.type === "session.ended") {
    line("system", "The caller hung up (" + e.reason + ").", "system");
  }
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  problem("");
  if (ws) ws.close();
  ws = new WebSocket(gatewayUrl());
  ws.onopen = () => send({ type: "session.start", v: 1, role: "agent", tenant: $("tenant").value || "default" });
  ws.onclose = () => { setState("Disconnected"); $("refresh").disabled = true; $("next").disabled = true; };
  ws.onerror = () => problem("Cannot reach the gateway at " + gatewayUrl());
  ws.onmessage = (m) => {
    let msg;
    try { msg = JSON.parse(m.data); } catch { return; }
    if (msg.type === "agent.ready") { setState("Connected as " + msg.agent_id); $("refresh").disabled = false; }
    else if (msg.type === "agent.queue") showQueue(msg.waiting);
    else if (msg.type === "agent.session") showSession(msg);
    else if (msg.type === "agent.event") onEvent(msg.event);
    else if (msg.type === "error") problem(msg.message + " (" + msg.code + ")");
  };
});

$("refresh").addEventListener("click", () => send({ type: "agent.list" }));
$("next").addEventListener("click", () => send({ type: "agent.take" }));
$("say-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("say").value.trim();
  if (!text) return;
  send({ type: "agent.say", text });
  $("say").value = "";
});
$("release").addEventListener("click", () => {
  send({ type: "agent.release" });
  $("taken").hidden = true;
});
