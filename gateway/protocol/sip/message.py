"""SIP messages (RFC 3261): parse one datagram into a request or response, serialise back.

Header names are normalised to their canonical long form (compact forms expanded); values are
kept as text. Every size is capped: the datagram, the header count, the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from gateway.errors import LimitExceeded, ProtocolError

MAX_MESSAGE = 16 * 1024  # SIP over UDP stays under the MTU in practice; INVITE+SDP ~1-3 KB
MAX_HEADERS = 64
COMPACT: Mapping[str, str] = {
    "i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length", "c": "Content-Type",
    "f": "From", "s": "Subject", "k": "Supported", "t": "To", "v": "Via", "r": "Refer-To",
    "b": "Referred-By", "o": "Event", "u": "Allow-Events", "x": "Session-Expires"}
CANONICAL: Mapping[str, str] = {name.lower(): name for name in (
    "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards", "Content-Type", "Content-Length",
    "Record-Route", "Route", "Allow", "Supported", "User-Agent", "Server", "Refer-To", "Referred-By",
    "Event", "Subscription-State", "Accept", "Allow-Events", "Require", "Unsupported", "Reason",
    "WWW-Authenticate", "Authorization", "Expires", "Session-Expires", "Min-SE", "Subject")}
TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
REASONS: Mapping[int, str] = {
    100: "Trying", 180: "Ringing", 200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 420: "Bad Extension",
    481: "Call/Transaction Does Not Exist",
    486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here", 500: "Server Internal Error",
    501: "Not Implemented", 503: "Service Unavailable", 513: "Message Too Large"}


def canonical(name: str) -> str:
    low = name.strip().lower()
    if low in COMPACT:
        return COMPACT[low]
    return CANONICAL.get(low, name.strip())


@dataclass(frozen=True)
class _Message:
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        want = canonical(name)
        return next((v for k, v in self.headers if k == want), None)

    def all(self, name: str) -> list[str]:
        """Every value of a header, comma-separated lists split (Via, Route, Record-Route...)."""
        want = canonical(name)
        return [part for k, v in self.headers if k == want for part in split_list(v)]

    def need(self, name: str) -> str:
        value = self.header(name)
        if value is None or not value.strip():
            raise ProtocolError(f"SIP message without {name}", code="sip-bad-request")
        return value

    def cseq(self) -> tuple[int, str]:
        parts = self.need("CSeq").split()
        if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) > 10:
            raise ProtocolError("SIP CSeq malformed", code="sip-bad-request")
        return int(parts[0]), parts[1].upper()

    def _head_lines(self) -> Iterator[str]:
        for k, v in self.headers:
            if k != "Content-Length":
                yield f"{k}: {v}"
        yield f"Content-Length: {len(self.body)}"


@dataclass(frozen=True)
class SipRequest(_Message):
    method: str = "OPTIONS"
    uri: str = ""

    def to_bytes(self) -> bytes:
        head = "\r\n".join([f"{self.method} {self.uri} SIP/2.0", *self._head_lines()])
        return head.encode("utf-8") + b"\r\n\r\n" + self.body


@dataclass(frozen=True)
class SipResponse(_Message):
    status: int = 200
    reason: str = "OK"

    def to_bytes(self) -> bytes:
        head = "\r\n".join([f"SIP/2.0 {self.status} {self.reason}", *self._head_lines()])
        return head.encode("utf-8") + b"\r\n\r\n" + self.body


SipMessage = SipRequest | SipResponse


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value, ignoring commas inside <...> and quotes."""
    parts: list[str] = []
    cur: list[str] = []
    depth, quoted = 0, False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth = max(0, depth - 1)
        elif ch == "," and not quoted and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def parse_message(data: bytes, *, max_bytes: int = MAX_MESSAGE) -> SipMessage:
    if len(data) > max_bytes:
        raise LimitExceeded(f"SIP message of {len(data)} bytes over {max_bytes}", code="sip-too-large")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")  # tolerate bare LF line ends
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("SIP header is not UTF-8", code="sip-bad-request") from None
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():  # RFC 3261 7.5: ignore leading blank lines (keep-alives)
        lines.pop(0)
    if not lines:
        raise ProtocolError("empty SIP message", code="sip-bad-request")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded continuation
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not TOKEN.match(name.strip()):
            raise ProtocolError(f"SIP header line malformed: {line[:60]!r}", code="sip-bad-request")
        headers.append((canonical(name), value.strip()))
        if len(headers) > MAX_HEADERS:
            raise LimitExceeded(f"SIP message with over {MAX_HEADERS} headers", code="sip-too-large")
    length = next((v for k, v in headers if k == "Content-Length"), None)
    if length is not None:
        if not length.isdigit() or int(length) > len(body):
            raise ProtocolError("SIP Content-Length larger than the body", code="sip-bad-request")
        body = body[: int(length)]
    start = lines[0].split(" ", 2)
    if len(start) != 3:
        raise ProtocolError(f"SIP start line malformed: {lines[0][:60]!r}", code="sip-bad-request")
    if start[0] == "SIP/2.0":
        if not (start[1].isdigit() and len(start[1]) == 3 and 100 <= int(start[1]) <= 699):
            raise ProtocolError("SIP status code malformed", code="sip-bad-request")
        return SipResponse(tuple(headers), body, status=int(start[1]), reason=start[2])
    if start[2] != "SIP/2.0" or not TOKEN.match(start[0]) or not start[1] or " " in start[1]:
        raise ProtocolError(f"SIP request line malformed: {lines[0][:60]!r}", code="sip-bad-request")
    return SipRequest(tuple(headers), body, method=start[0].upper(), uri=start[1])


# -- header values ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class NameAddr:
    uri: str
    display: str = ""
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def with_tag(self, tag: str) -> NameAddr:
        return replace(self, params={**self.params, "tag": tag})

    def __str__(self) -> str:
        display = f'"{self.display}" ' if self.display else ""
        params = "".join(f";{k}={v}" if v else f";{k}" for k, v in self.params.items())
        return f"{display}<{self.uri}>{params}"


def _params(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in text.split(";"):
        key, _, value = item.strip().partition("=")
        if key:
            out[key.strip().lower()] = value.strip()
    return out


def parse_name_addr(value: str) -> NameAddr:
    value = value.strip()
    if "<" in value:
        display, _, rest = value.partition("<")
        uri, close, params = rest.partition(">")
        if not close:
            raise ProtocolError("SIP address without closing '>'", code="sip-bad-request")
        return NameAddr(uri.strip(), display.strip().strip('"'), _params(params))
    uri, _, params = value.partition(";")  # addr-spec form: parameters belong to the header
    if not uri:
        raise ProtocolError("SIP address empty", code="sip-bad-request")
    return NameAddr(uri.strip(), "", _params(params))


@dataclass(frozen=True)
class SipUri:
    user: str
    host: str
    port: int | None
    params: Mapping[str, str]


def parse_uri(uri: str) -> SipUri:
    scheme, colon, rest = uri.partition(":")
    if not colon or scheme.lower() not in ("sip", "sips"):
        raise ProtocolError(f"not a SIP URI: {uri[:60]!r}", code="sip-bad-request")
    rest, _, _headers = rest.partition("?")
    hostport, _, params = rest.partition(";")
    user, at, host = hostport.rpartition("@")
    if not at:
        user, host = "", hostport
    port: int | None = None
    if host.startswith("["):  # IPv6 reference
        end = host.find("]")
        if end < 0:
            raise ProtocolError("SIP URI IPv6 host unterminated", code="sip-bad-request")
        host, tail = host[1:end], host[end + 1:]
        if tail.startswith(":") and tail[1:].isdigit():
            port = int(tail[1:])
    elif ":" in host:
        host, _, p = host.partition(":")
        if not p.isdigit() or not 0 < int(p) < 65536:
            raise ProtocolError("SIP URI port malformed", code="sip-bad-request")
        port = int(p)
    if not host:
        raise ProtocolError("SIP URI without host", code="sip-bad-request")
    return SipUri(user, host, port, _params(params))


def via_branch(via: str) -> str:
    return _params(via.partition(";")[2]).get("branch", "")


def via_address(via: str, source: tuple[str, int]) -> tuple[str, int]:
    """Where a response goes over UDP (RFC 3261 18.2.2, RFC 3581): the source IP, and the source
    port when the client asked for rport, else the port in sent-by (default 5060)."""
    sent_by, _, params_text = via.partition(";")
    if "rport" in _params(params_text):
        return source
    parts = sent_by.split()
    hostport = parts[1] if len(parts) == 2 else ""
    port = hostport.rpartition(":")[2] if not hostport.endswith("]") else ""
    return source[0], int(port) if port.isdigit() and 0 < int(port) < 65536 else 5060
