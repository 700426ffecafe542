"""Prints the settings tables of docs/configuration.md from the settings dataclasses.

Usage: .venv/bin/python scripts/config_docs.py > /tmp/tables.md (then paste below the intro).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing

from gateway.config import Settings

# Meanings of settings whose definition carries no comment.
EXTRA = {
    "blas_threads": "threads per numpy matrix product (OpenBLAS), for the whole process; `0` leaves "
                    "the library's default (one per core). With many callers, many threads make small "
                    "products at once and per-call BLAS threads only spin: 25 callers p95 3.0 s with "
                    "the default, 0.7 to 1.0 s with 1 (docs/benchmarks.md \"Capacity, BLAS threads\")",
    "asr_model": "`auto`: tiny.en for English sessions, multilingual base otherwise; or `tiny.en`/`base`",
    "max_hands": "hands tracked per frame",
    "rtp_port_min": "lowest UDP port for RTP media",
    "rtp_port_max": "highest UDP port for RTP media",
    "audiosocket_host": "Asterisk AudioSocket listen address",
    "audiosocket_port": "Asterisk AudioSocket TCP port",
    "max_calls": "concurrent phone calls, at most",
    "openai_url": "base URL of an OpenAI-compatible server (vLLM, llama.cpp server, Ollama, a hosted API)",
    "openai_model": "model name sent to that server",
    "llm_max_tokens": "longest LLM reply",
    "llm_threads": "CPU threads of the embedded llama.cpp",
    "agent_queue_size": "sessions waiting for a person, at most",
    "espeak_words_per_minute":
        "espeak-ng speaking rate (its own default is 175; slower is heard better by Whisper base)",
    "ice_credential": "password for the TURN servers",
    "max_peers": "concurrent WebRTC peers; beyond that an offer gets `webrtc-busy`",
    "jpeg_quality": "JPEG quality of camera frames handed to sign recognition",
    "answer_timeout_s": "longest wait for ICE gathering before an offer gets `webrtc-timeout`",
    "mode": ("`off`: no credentials (loopback development, every connection is an admin); "
             "`required`: keys or tokens"),
    "api_keys": "each `SHA256HEX:tenant:role[:name]` (the hash from `gateway ops new-key`, never the key)",
    "allowed_origins": "browser origins allowed besides the gateway's own pages (`https://app.example.com`)",
    "connect_timeout_s": "PostgreSQL connect timeout",
    "write_timeout_s": "PostgreSQL write timeout; past it records stay in the journal",
}


def main() -> None:
    for section in dataclasses.fields(Settings):
        cls = typing.get_type_hints(Settings)[section.name]
        source = inspect.getsource(cls)
        print(f"\n### [{section.name}]\n")
        print("| setting | environment variable | default | meaning |\n|---|---|---|---|")
        for f in dataclasses.fields(cls):
            match = re.search(rf"^\s+{f.name}: [^=]+= [^#\n]+(?:#\s*(.*))?$", source, re.M)
            meaning = (match.group(1) or "").strip() if match else ""
            default = "" if f.default is dataclasses.MISSING else repr(f.default)
            env = f"GATEWAY_{section.name.upper()}__{f.name.upper()}"
            print(f"| `{f.name}` | `{env}` | `{default}` | {meaning or EXTRA.get(f.name, '')} |")


if __name__ == "__main__":
    main()
