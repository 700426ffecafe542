"""A small SIP user agent server over UDP (RFC 3261 subset): takes calls, answers G.711 with
telephone-event, hangs up (BYE both ways), transfers with REFER (RFC 3515).

Sans-I/O: datagrams and commands in (`receive`, `answer`, `reject`, `hangup`, `refer`, `tick`),
datagrams to send and typed call events out; time is a number of milliseconds the caller passes
in, so retransmission timers are tested without sleeping.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from gateway.errors import GatewayError, LimitExceeded, MediaError, ProtocolError
from gateway.protocol.sip.message import (
    REASONS,
    SipRequest,
    SipResponse,
    parse_message,
    parse_name_addr,
    parse_uri,
    via_address,
    via_branch,
)
from gateway.protocol.sip.sdp import NegotiatedMedia, build_answer, negotiate, parse_sdp

T1, T2 = 500, 4000  # RFC 3261 timer values, ms
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY, INFO"
Addr = tuple[str, int]


@dataclass(frozen=True)
class UasConfig:
    host: str  # our signalling address, as peers reach it
    port: int
    user_agent: str = "cc-gateway"
    codecs: tuple[str, ...] = ("PCMU", "PCMA")
    max_calls: int = 50
    max_message: int = 16 * 1024


@dataclass(frozen=True)
class SendDatagram:
    data: bytes
    addr: Addr


@dataclass(frozen=True)
class CallOffered:
    call_id: str
    media: NegotiatedMedia
    caller: str  # From URI
    callee: str  # request URI user part (the number dialled)
    source: Addr


@dataclass(frozen=True)
class CallConfirmed:
    call_id: str


@dataclass(frozen=True)
class CallEnded:
    call_id: str
    reason: str  # "remote-bye" | "local-bye" | "cancelled" | "rejected" | "no-ack"


@dataclass(frozen=True)
class SipDtmf:
    call_id: str
    digit: str  # from SIP INFO (application/dtmf-relay), for peers that do not send RFC 4733


@dataclass(frozen=True)
class TransferUpdate:
    call_id: str
    status: int  # 202 accepted; then the transfer's own progress from NOTIFY sipfrag
    final: bool


@dataclass(frozen=True)
class SipError:
    error: GatewayError
    source: Addr


SipOutput = SendDatagram | CallOffered | CallConfirmed | CallEnded | SipDtmf | TransferUpdate | SipError
State = Literal["offered", "answered", "confirmed"]


@dataclass
class _Call:
    call_id: str
    invite: SipRequest
    source: Addr
    local_tag: str
    remote: str  # the caller's From header value (with its tag)
    target: str  # the caller's Contact URI: where our in-dialog requests go
    routes: list[str]
    media: NegotiatedMedia
    state: State = "offered"
    last_response: bytes = b""
    local_cseq: int = 1
    answer_sdp: bytes = b""
    retransmit_at: int | None = None
    interval: int = T1
    ack_deadline: int = 0


@dataclass
class _ClientTx:
    call_id: str
    method: str
    data: bytes
    addr: Addr
    next_at: int
    deadline: int
    interval: int = T1


@dataclass
class SipUas:
    config: UasConfig
    rng: random.Random = field(default_factory=random.Random)
    calls: dict[str, _Call] = field(default_factory=dict)
    _txs: dict[str, _ClientTx] = field(default_factory=dict)
    _ended: dict[str, bytes] = field(default_factory=dict)  # recent BYE answers, for retransmitted BYEs

    # -- inbound ----------------------------------------------------------------------------------
    def receive(self, data: bytes, source: Addr, now_ms: int) -> list[SipOutput]:
        if not data.strip():
            return []  # CRLF keep-alive
        try:
            msg = parse_message(data, max_bytes=self.config.max_message)
        except GatewayError as exc:
            return [SipError(exc, source)]
        if isinstance(msg, SipResponse):
            return self._on_response(msg)
        try:
            for name in ("Via", "From", "To", "Call-ID"):
                msg.need(name)
            _, method = msg.cseq()
            if method != msg.method:
                raise ProtocolError("SIP CSeq method differs from the request's", code="sip-bad-request")
            return self._on_request(msg, source, now_ms)
        except GatewayError as exc:
            out: list[SipOutput] = [SipError(exc, source)]
            if msg.method != "ACK" and msg.header("Via"):
                status = 513 if isinstance(exc, LimitExceeded) else 400
                out.append(self._respond(msg, source, status, reason=exc.message[:80]))
            return out

    def _on_request(self, req: SipRequest, source: Addr, now: int) -> list[SipOutput]:
        call_id = req.need("Call-ID")
        call = self.calls.get(call_id)
        to_tag = parse_name_addr(req.need("To")).tag
        if req.method == "INVITE":
            if call is not None:
                if to_tag is None and call.invite.cseq() == req.cseq():
                    return [SendDatagram(call.last_response, via_address(req.need("Via"), source))] \
                        if call.last_response else []
                if to_tag == call.local_tag and call.answer_sdp:  # re-INVITE: keep the same media
                    return [self._respond(req, source, 200, call=call, body=call.answer_sdp)]
                return [self._respond(req, source, 491 if to_tag == call.local_tag else 481)]
            if to_tag is not None:
                return [self._respond(req, source, 481)]
            return self._on_invite(req, source)
        if req.method == "ACK":
            if call is not None and call.state == "answered" and to_tag == call.local_tag:
                call.state, call.retransmit_at = "confirmed", None
                return [CallConfirmed(call_id)]
            return []
        if req.method == "OPTIONS":
            return [self._respond(req, source, 200, extra=(("Allow", ALLOW), ("Accept", "application/sdp")))]
        if req.method == "BYE" and call_id in self._ended and call is None:
            return [SendDatagram(self._ended[call_id], via_address(req.need("Via"), source))]
        if call is None or (req.method != "CANCEL" and to_tag != call.local_tag):
            return [self._respond(req, source, 481)]
        if req.method == "CANCEL":
            out: list[SipOutput] = [self._respond(req, source, 200, call=call)]
            if call.state == "offered":
                out.append(self._final(call, 487))
                out.append(self._end(call, "cancelled"))
            return out
        if req.method == "BYE":
            answer = self._respond(req, source, 200, call=call)
            self._remember_ended(call_id, answer.data)
            return [answer, self._end(call, "remote-bye")]
        if req.method == "NOTIFY":
            return [self._respond(req, source, 200, call=call), *self._on_notify(call, req)]
        if req.method == "INFO":
            return [self._respond(req, source, 200, call=call), *self._on_info(call, req)]
        return [self._respond(req, source, 501, call=call, extra=(("Allow", ALLOW),))]

    def _on_invite(self, req: SipRequest, source: Addr) -> list[SipOutput]:
        if len(self.calls) >= self.config.max_calls:
            return [SipError(LimitExceeded("all SIP call slots in use", code="busy"), source),
                    self._respond(req, source, 486)]
        if req.header("Require"):
            return [self._respond(req, source, 420, extra=(("Unsupported", req.need("Require")),))]
        try:
            if not req.body:
                raise MediaError("INVITE without an SDP offer (delayed offer is not supported)",
                                 code="sdp-no-common-codec")
            media = negotiate(parse_sdp(req.body), self.config.codecs)
        except GatewayError as exc:
            return [SipError(exc, source), self._respond(req, source, 488, reason=exc.message[:80])]
        contact = req.header("Contact")
        target = parse_name_addr(contact).uri if contact else parse_name_addr(req.need("From")).uri
        parse_uri(target)
        call = _Call(
            call_id=req.need("Call-ID"), invite=req, source=source, local_tag=self._token(),
            remote=req.need("From"), target=target,
            routes=req.all("Record-Route"), media=media)
        self.calls[call.call_id] = call
        trying = self._respond(req, source, 100)
        callee = parse_uri(req.uri).user if req.uri.lower().startswith("sip") else ""
        return [trying, CallOffered(call.call_id, media, parse_name_addr(call.remote).uri, callee, source)]

    def _on_notify(self, call: _Call, req: SipRequest) -> list[SipOutput]:
        if not (req.header("Event") or "").lower().startswith("refer"):
            return []
        frag = req.body.split(b"\n", 1)[0].decode("utf-8", "replace").split()
        if len(frag) < 2 or not frag[1].isdigit():
            return []
        status = int(frag[1])
        terminated = (req.header("Subscription-State") or "").lower().startswith("terminated")
        return [TransferUpdate(call.call_id, status, final=status >= 200 or terminated)]

    def _on_info(self, call: _Call, req: SipRequest) -> list[SipOutput]:
        if "dtmf-relay" not in (req.header("Content-Type") or ""):
            return []
        for line in req.body.decode("utf-8", "replace").splitlines()[:8]:
            key, _, value = line.partition("=")
            digit = value.strip()
            if key.strip().lower() == "signal" and len(digit) == 1 and digit in "0123456789*#ABCD":
                return [SipDtmf(call.call_id, digit)]
        return []

    def _on_response(self, resp: SipResponse) -> list[SipOutput]:
        vias = resp.all("Via")
        tx = self._txs.get(via_branch(vias[0])) if vias else None
        if tx is None:
            return []
        if resp.status < 200:
            tx.next_at = tx.deadline  # provisional: stop retransmitting, keep the timeout
            return []
        del self._txs[via_branch(vias[0])]
        if tx.method == "REFER":
            return [TransferUpdate(tx.call_id, resp.status, final=resp.status >= 300)]
        return []

    # -- commands ---------------------------------------------------------------------------------
    def answer(self, call_id: str, rtp: Addr, now_ms: int) -> list[SipOutput]:
        call = self._get(call_id)
        if call.state != "offered":
            return []
        call.answer_sdp = build_answer(call.media, address=rtp[0], port=rtp[1],
                                       session_id=self.rng.getrandbits(31))
        out = self._final(call, 200, body=call.answer_sdp)
        call.state, call.retransmit_at, call.ack_deadline = "answered", now_ms + T1, now_ms + 64 * T1
        return [out]

    def reject(self, call_id: str, status: int = 486) -> list[SipOutput]:
        call = self._get(call_id)
        if call.state != "offered":
            return []
        return [self._final(call, status), self._end(call, "rejected")]

    def hangup(self, call_id: str, now_ms: int) -> list[SipOutput]:
        call = self.calls.get(call_id)
        if call is None:
            return []
        if call.state == "offered":
            return self.reject(call_id, 480)
        return [self._request(call, "BYE", now_ms), self._end(call, "local-bye")]

    def refer(self, call_id: str, target: str, now_ms: int) -> list[SipOutput]:
        call = self._get(call_id)
        parse_uri(target)
        return [self._request(call, "REFER", now_ms, extra=(
            ("Refer-To", f"<{target}>"), ("Referred-By", f"<sip:gateway@{self._hostport()}>")))]

    def tick(self, now_ms: int) -> list[SipOutput]:
        out: list[SipOutput] = []
        for call in list(self.calls.values()):
            if call.state != "answered" or call.retransmit_at is None or now_ms < call.retransmit_at:
                continue
            if now_ms >= call.ack_deadline:
                out += self.hangup(call.call_id, now_ms)[:1]
                out.append(CallEnded(call.call_id, "no-ack"))
                continue
            out.append(SendDatagram(call.last_response, via_address(call.invite.need("Via"), call.source)))
            call.interval = min(call.interval * 2, T2)
            call.retransmit_at = now_ms + call.interval
        for branch, tx in list(self._txs.items()):
            if now_ms >= tx.deadline:
                del self._txs[branch]
                if tx.method == "REFER":
                    out.append(TransferUpdate(tx.call_id, 408, final=True))
            elif now_ms >= tx.next_at:
                out.append(SendDatagram(tx.data, tx.addr))
                tx.interval = min(tx.interval * 2, T2)
                tx.next_at = now_ms + tx.interval
        return out

    # -- building messages ------------------------------------------------------------------------
    def _get(self, call_id: str) -> _Call:
        call = self.calls.get(call_id)
        if call is None:
            raise ProtocolError(f"no SIP call {call_id[:40]!r}", code="sip-no-call")
        return call

    def _token(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"

    def _hostport(self) -> str:
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"{host}:{self.config.port}"

    def _contact(self) -> str:
        return f"<sip:gateway@{self._hostport()}>"

    def _end(self, call: _Call, reason: str) -> CallEnded:
        self.calls.pop(call.call_id, None)
        for branch in [b for b, tx in self._txs.items() if tx.call_id == call.call_id and tx.method != "BYE"]:
            del self._txs[branch]
        return CallEnded(call.call_id, reason)

    def _remember_ended(self, call_id: str, answer: bytes) -> None:
        if len(self._ended) >= 256:
            self._ended.pop(next(iter(self._ended)))
        self._ended[call_id] = answer

    def _final(self, call: _Call, status: int, *, body: bytes = b"") -> SendDatagram:
        out = self._respond(call.invite, call.source, status, call=call, body=body)
        call.last_response = out.data
        return out

    def _respond(self, req: SipRequest, source: Addr, status: int, *, call: _Call | None = None,
                 reason: str | None = None, body: bytes = b"",
                 extra: tuple[tuple[str, str], ...] = ()) -> SendDatagram:
        to = req.header("To") or ""
        if status > 100 and call is not None and ";tag=" not in to:
            to = f"{to};tag={call.local_tag}"
        elif status > 100 and call is None and ";tag=" not in to and to:
            to = f"{to};tag={self._token()}"
        headers: list[tuple[str, str]] = [("Via", v) for v in req.all("Via")]
        copied = (("From", req.header("From")), ("To", to), ("Call-ID", req.header("Call-ID")),
                  ("CSeq", req.header("CSeq")))
        headers += [(k, v) for k, v in copied if v]
        if req.method == "INVITE" and 200 <= status < 300:
            headers += [("Contact", self._contact()), ("Allow", ALLOW)]
        if body:
            headers.append(("Content-Type", "application/sdp"))
        headers += [("Server", self.config.user_agent), *extra]
        text = reason or REASONS.get(status, "Unknown")
        text = text.replace("\r", " ").replace("\n", " ")
        resp = SipResponse(tuple(headers), body, status=status, reason=text)
        return SendDatagram(resp.to_bytes(), via_address(req.all("Via")[0], source))

    def _request(self, call: _Call, method: str, now: int, *,
                 extra: tuple[tuple[str, str], ...] = ()) -> SendDatagram:
        call.local_cseq += 1
        branch = f"z9hG4bK{self._token()}"
        local = parse_name_addr(call.invite.need("To")).with_tag(call.local_tag)
        headers = (
            ("Via", f"SIP/2.0/UDP {self._hostport()};branch={branch};rport"), ("Max-Forwards", "70"),
            ("From", str(local)), ("To", call.remote), ("Call-ID", call.call_id),
            ("CSeq", f"{call.local_cseq} {method}"), ("Contact", self._contact()),
            *(("Route", r) for r in call.routes), ("User-Agent", self.config.user_agent), *extra)
        data = SipRequest(headers, b"", method=method, uri=call.target).to_bytes()
        addr = self._destination(call)
        self._txs[branch] = _ClientTx(call.call_id, method, data, addr, now + T1, now + 64 * T1)
        return SendDatagram(data, addr)

    def _destination(self, call: _Call) -> Addr:
        """First Route, else the remote target; a host name (no DNS here) falls back to the
        address the INVITE came from."""
        uri = parse_name_addr(call.routes[0]).uri if call.routes else call.target
        parsed = parse_uri(uri)
        try:
            ipaddress.ip_address(parsed.host)
        except ValueError:
            return call.source
        return parsed.host, parsed.port or 5060


def call_params(offer: CallOffered) -> Mapping[str, str]:
    """Session parameters for a SIP call (what a Twilio `start` calls customParameters)."""
    return {"caller": offer.caller, "callee": offer.callee, "sip_call_id": offer.call_id,
            "codec": offer.media.codec}
