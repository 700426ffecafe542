"""SIP for the phone line: message parser/serialiser, SDP offer/answer, a small UAS with REFER."""
