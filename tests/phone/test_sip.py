"""SIP parser, SDP offer/answer and the UAS state machine: bytes in, events and bytes out."""

from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import GatewayError
from gateway.protocol.sip.message import SipRequest, SipResponse, parse_message, parse_name_addr, parse_uri
from gateway.protocol.sip.sdp import build_answer, negotiate, parse_sdp
from gateway.protocol.sip.uas import (
    CallConfirmed,
    CallEnded,
    CallOffered,
    SendDatagram,
    SipDtmf,
    SipError,
    SipOutput,
    SipUas,
    TransferUpdate,
    UasConfig,
)

PHONE = ("127.0.0.1", 5070)
OFFER = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n")


def invite(body: str = OFFER, call_id: str = "c1", extra: str = "", cseq: int = 1) -> bytes:
    head = (
        f"INVITE sip:gw@127.0.0.1:5080 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKinv{cseq};rport\r\n"
        f"Max-Forwards: 70\r\nFrom: <sip:caller@127.0.0.1:5070>;tag=ph1\r\n"
        f"To: <sip:gw@127.0.0.1:5080>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n"
        f"Contact: <sip:caller@127.0.0.1:5070>\r\n{extra}Content-Type: application/sdp\r\n"
        f"Content-Length: {len(body)}\r\n\r\n")
    return (head + body).encode()


def in_dialog(method: str, to_tag: str, call_id: str = "c1", cseq: int = 2, body: str = "",
              extra: str = "") -> bytes:
    return (
        f"{method} sip:gateway@127.0.0.1:5080 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{method}{cseq}\r\n"
        f"From: <sip:caller@127.0.0.1:5070>;tag=ph1\r\nTo: <sip:gw@127.0.0.1:5080>;tag={to_tag}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n{extra}Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def sent(outs: list[SipOutput]) -> list[SipRequest | SipResponse]:
    return [parse_message(o.data) for o in outs if isinstance(o, SendDatagram)]


def uas(**kw: object) -> SipUas:
    return SipUas(UasConfig("127.0.0.1", 5080, **kw), rng=random.Random(1))  # type: ignore[arg-type]


def answered(ua: SipUas) -> tuple[str, SipResponse]:
    outs = ua.receive(invite(), PHONE, 0)
    offer = next(o for o in outs if isinstance(o, CallOffered))
    ok = sent(ua.answer(offer.call_id, ("127.0.0.1", 20000), 10))[0]
    assert isinstance(ok, SipResponse)
    tag = parse_name_addr(ok.need("To")).tag
    assert tag
    return tag, ok


def test_parse_compact_headers_and_folding() -> None:
    msg = parse_message(b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9\r\ni: x\r\n"
                        b"f: <sip:a@b>;tag=1\r\nt: <sip:c@d>\r\nCSeq: 1\r\n OPTIONS\r\nl: 0\r\n\r\n")
    assert isinstance(msg, SipRequest)
    assert msg.header("Call-ID") == "x" and msg.cseq() == (1, "OPTIONS")


def test_serialise_round_trip_sets_content_length() -> None:
    req = SipRequest((("Call-ID", "a"), ("Content-Length", "99")), b"hello", method="INFO", uri="sip:x@y")
    again = parse_message(req.to_bytes())
    assert again == SipRequest((("Call-ID", "a"), ("Content-Length", "5")), b"hello", method="INFO",
                               uri="sip:x@y")


@pytest.mark.parametrize("data, code", [
    (b"", "sip-bad-request"),
    (b"HELLO\r\n\r\n", "sip-bad-request"),
    (b"INVITE sip:a SIP/3.0\r\n\r\n", "sip-bad-request"),
    (b"SIP/2.0 99 Odd\r\n\r\n", "sip-bad-request"),
    (b"INVITE sip:a SIP/2.0\r\nBad Header\r\n\r\n", "sip-bad-request"),
    (b"INVITE sip:a SIP/2.0\r\nContent-Length: 50\r\n\r\nshort", "sip-bad-request"),
    (b"INVITE sip:a SIP/2.0\r\n" + b"X-A: 1\r\n" * 70 + b"\r\n", "sip-too-large"),
    (b"INVITE sip:a SIP/2.0\r\n" + b"X: " + b"a" * 20000 + b"\r\n\r\n", "sip-too-large"),
])
def test_malformed_messages_have_stable_codes(data: bytes, code: str) -> None:
    with pytest.raises(GatewayError) as info:
        parse_message(data)
    assert info.value.code == code


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_parser_fuzz_bytes(data: bytes) -> None:
    with contextlib.suppress(GatewayError):
        parse_message(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([
    "INVITE sip:gw@h SIP/2.0", "Via: SIP/2.0/UDP h:1;branch=z9", "From: <sip:a@b>;tag=1", "To: <sip:c@d>",
    "Call-ID: q", "CSeq: 1 INVITE", "CSeq: x", "Content-Length: 3", "Contact: <sip:a@1.2.3.4:5>",
    "To: <sip:c@d>;tag=zz", "Require: 100rel", "m: <", "", "v=0", "m=audio 1 RTP/AVP 0", "c=IN IP4 1.2.3.4",
    "ACK sip:gw@h SIP/2.0", "BYE sip:x SIP/2.0", "CSeq: 2 BYE", "Content-Type: application/dtmf-relay"]),
    max_size=14))
def test_uas_fuzz_line_soup_never_raises(lines: list[str]) -> None:
    ua = uas()
    for out in ua.receive("\r\n".join(lines).encode(), PHONE, 0):
        assert not isinstance(out, SipError) or out.error.code


def test_uri_and_name_addr() -> None:
    uri = parse_uri("sip:bob@[::1]:5062;transport=udp")
    assert (uri.user, uri.host, uri.port, uri.params["transport"]) == ("bob", "::1", 5062, "udp")
    na = parse_name_addr('"Bob, Jr" <sip:bob@h;lr>;tag=9')
    assert (na.display, na.uri, na.tag) == ("Bob, Jr", "sip:bob@h;lr", "9")


def test_sdp_negotiation_follows_offer_order() -> None:
    media = negotiate(parse_sdp(OFFER.encode()))
    assert (media.codec, media.payload_type, media.dtmf_payload_type, media.remote) == (
        "PCMA", 8, 101, ("127.0.0.1", 40000))
    assert negotiate(parse_sdp(OFFER.encode()), ("PCMU",)).codec == "PCMU"
    answer = parse_sdp(build_answer(media, address="127.0.0.1", port=20000, session_id=5))
    assert answer.media[0].formats == (8, 101) and answer.media[0].port == 20000


def test_sdp_without_common_codec() -> None:
    offer = OFFER.replace("RTP/AVP 8 0 101", "RTP/AVP 96 101").replace("a=rtpmap:8 PCMA/8000\r\n", "") \
        .replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:96 opus/48000/2")
    with pytest.raises(GatewayError) as info:
        negotiate(parse_sdp(offer.encode()))
    assert info.value.code == "sdp-no-common-codec" and "OPUS/48000" in info.value.message


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1500))
def test_sdp_fuzz(data: bytes) -> None:
    with contextlib.suppress(GatewayError):
        negotiate(parse_sdp(data))


def test_invite_answer_ack_bye_from_phone() -> None:
    ua = uas()
    outs = ua.receive(invite(), PHONE, 0)
    assert [m.status for m in sent(outs) if isinstance(m, SipResponse)] == [100]
    offer = next(o for o in outs if isinstance(o, CallOffered))
    assert offer.media.codec == "PCMA" and offer.caller == "sip:caller@127.0.0.1:5070"
    ok = sent(ua.answer("c1", ("127.0.0.1", 20000), 10))[0]
    assert isinstance(ok, SipResponse) and ok.status == 200
    # our own Contact, never the caller's (baresip would send ACK/BYE to itself)
    assert ok.need("Contact") == "<sip:gateway@127.0.0.1:5080>"
    assert parse_sdp(ok.body).media[0].port == 20000
    tag = parse_name_addr(ok.need("To")).tag
    assert ua.receive(in_dialog("ACK", tag or "", cseq=1), PHONE, 20) == [CallConfirmed("c1")]
    bye = ua.receive(in_dialog("BYE", tag or ""), PHONE, 30)
    assert [m.status for m in sent(bye) if isinstance(m, SipResponse)] == [200]
    assert CallEnded("c1", "remote-bye") in bye and "c1" not in ua.calls
    # a retransmitted BYE gets the same 200 again, not 481
    assert [m.status for m in sent(ua.receive(in_dialog("BYE", tag or ""), PHONE, 40))] == [200]  # type: ignore[union-attr]


def test_200_is_retransmitted_until_ack_then_call_is_hung_up() -> None:
    ua = uas()
    answered(ua)
    times = [t for t in range(0, 40000, 100) if any(isinstance(o, SendDatagram) for o in ua.tick(t))]
    assert times[:3] == [600, 1600, 3600]  # due at 510 (answer + T1), then 2*T1, 4*T1 (100 ms ticks)
    assert "c1" not in ua.calls  # 64*T1 without ACK: BYE and end


def test_invite_retransmission_gets_same_response_and_no_second_call() -> None:
    ua = uas()
    ua.receive(invite(), PHONE, 0)
    ua.answer("c1", ("127.0.0.1", 20000), 10)
    again = ua.receive(invite(), PHONE, 50)
    assert not any(isinstance(o, CallOffered) for o in again)
    assert [m.status for m in sent(again)] == [200]  # type: ignore[union-attr]


def test_no_common_codec_gets_488_and_error_event() -> None:
    ua = uas(codecs=("PCMU",))
    outs = ua.receive(invite(OFFER.replace("RTP/AVP 8 0 101", "RTP/AVP 8 101")), PHONE, 0)
    assert [m.status for m in sent(outs)] == [488]  # type: ignore[union-attr]
    assert any(isinstance(o, SipError) and o.error.code == "sdp-no-common-codec" for o in outs)
    assert not ua.calls


def test_malformed_request_gets_400_when_it_can_be_answered() -> None:
    ua = uas()
    bad = invite().replace(b"CSeq: 1 INVITE", b"CSeq: one INVITE")
    outs = ua.receive(bad, PHONE, 0)
    assert [m.status for m in sent(outs)] == [400]  # type: ignore[union-attr]
    assert any(isinstance(o, SipError) and o.error.code == "sip-bad-request" for o in outs)
    assert ua.receive(b"garbage\r\n\r\n", PHONE, 0)[0].error.code == "sip-bad-request"  # type: ignore[union-attr]


def test_busy_when_all_call_slots_used() -> None:
    ua = uas(max_calls=1)
    ua.receive(invite(call_id="a"), PHONE, 0)
    outs = ua.receive(invite(call_id="b"), PHONE, 0)
    assert [m.status for m in sent(outs)] == [486]  # type: ignore[union-attr]


def test_cancel_before_answer() -> None:
    ua = uas()
    ua.receive(invite(), PHONE, 0)
    cancel = invite().replace(b"INVITE sip", b"CANCEL sip").replace(b"1 INVITE", b"1 CANCEL")
    outs = ua.receive(cancel, PHONE, 5)
    assert sorted(m.status for m in sent(outs)) == [200, 487]  # type: ignore[union-attr]
    assert CallEnded("c1", "cancelled") in outs


def test_refer_notify_and_our_bye() -> None:
    ua = uas()
    tag, _ = answered(ua)
    ua.receive(in_dialog("ACK", tag, cseq=1), PHONE, 20)
    refer = sent(ua.refer("c1", "sip:agent@127.0.0.1:5090", 100))[0]
    assert isinstance(refer, SipRequest) and refer.method == "REFER"
    assert refer.uri == "sip:caller@127.0.0.1:5070"  # the caller's Contact
    assert refer.need("Refer-To") == "<sip:agent@127.0.0.1:5090>"
    assert parse_name_addr(refer.need("From")).tag == tag and "tag=ph1" in refer.need("To")
    headers = tuple((k, v) for k, v in refer.headers if k in ("Via", "From", "To", "Call-ID", "CSeq"))
    accepted = SipResponse(headers, status=202, reason="Accepted").to_bytes()
    assert ua.receive(accepted, PHONE, 110) == [TransferUpdate("c1", 202, False)]
    notify = in_dialog("NOTIFY", tag, cseq=3, body="SIP/2.0 200 OK\r\n",
                       extra="Event: refer\r\nSubscription-State: terminated;reason=noresource\r\n"
                             "Content-Type: message/sipfrag\r\n")
    outs = ua.receive(notify, PHONE, 200)
    assert TransferUpdate("c1", 200, True) in outs
    bye = sent(ua.hangup("c1", 300))[0]
    assert isinstance(bye, SipRequest) and bye.method == "BYE" and bye.cseq() == (3, "BYE")


def test_refer_is_retransmitted_and_times_out() -> None:
    ua = uas()
    tag, _ = answered(ua)
    ua.receive(in_dialog("ACK", tag, cseq=1), PHONE, 20)
    ua.refer("c1", "sip:agent@127.0.0.1:5090", 0)
    outs = [o for t in range(0, 40000, 100) for o in ua.tick(t)]
    assert sum(isinstance(o, SendDatagram) and b"REFER" in o.data[:6] for o in outs) >= 5
    assert TransferUpdate("c1", 408, True) in outs


def test_info_dtmf_and_options() -> None:
    ua = uas()
    tag, _ = answered(ua)
    info = in_dialog("INFO", tag, body="Signal=5\r\nDuration=160\r\n",
                     extra="Content-Type: application/dtmf-relay\r\n")
    assert SipDtmf("c1", "5") in ua.receive(info, PHONE, 50)
    options = in_dialog("OPTIONS", "x", call_id="o1")
    resp = sent(ua.receive(options, PHONE, 60))[0]
    assert isinstance(resp, SipResponse) and resp.status == 200
    assert "INVITE" in (resp.header("Allow") or "")


def test_bye_for_unknown_call_gets_481() -> None:
    assert [m.status for m in sent(uas().receive(in_dialog("BYE", "nope"), PHONE, 0))] == [481]  # type: ignore[union-attr]
