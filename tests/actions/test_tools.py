"""With an OpenAI-compatible backend, the action declarations are offered to it as tools; what it
proposes goes through the same read-back and confirmation. The LLM is a real local HTTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.actions.backend import Backend
from tests.actions.conftest import ActionCore, make_core, reply, say

SEND_BACK = "I'd like to send the earbuds back, they're broken. Order A1029."


def tool_call(name: str, arguments: dict[str, object]) -> dict[str, object]:
    call = {"id": "call_1", "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)}}
    return {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [call]}}]}


@pytest.fixture
def llm_core(tmp_path: Path, kb_db: Path, backend: Backend) -> Iterator[ActionCore]:
    import asyncio

    built = make_core(tmp_path, kb_db, backend, llm=True, timeout_s=0.5)
    yield built
    asyncio.run(built.core.aclose())


async def test_a_tool_the_llm_picks_is_still_read_back_and_confirmed(llm_core: ActionCore) -> None:
    backend = llm_core.backend
    backend.llm_reply = tool_call("return_request", {"order_number": "A1029", "reason": "broken earbuds"})
    conv = llm_core.open()
    readback = reply(await say(conv, SEND_BACK, "en"))
    assert "start a return" in readback and "A1029" in readback and "broken earbuds" in readback
    (sent,) = backend.llm_requests
    assert sorted(t["function"]["name"] for t in sent["tools"]) == [
        "change_address", "order_status", "promotion_lookup", "return_request"]
    assert sent["messages"][-1]["content"] == SEND_BACK
    assert backend.returns == []  # nothing before the caller's yes
    assert "R-0001" in reply(await say(conv, "yes", "en"))
    assert backend.returns == [{"order_number": "A1029", "reason": "broken earbuds"}]
    assert llm_core.rows("tool-route")[0]["outcome"] == "chosen"


async def test_an_argument_that_fails_its_pattern_is_asked_for(llm_core: ActionCore) -> None:
    llm_core.backend.llm_reply = tool_call("order_status", {"order_number": "my usual one"})
    conv = llm_core.open()
    asked = reply(await say(conv, "Can you check on the earbuds I bought? Order please.", "en"))
    assert asked == "Sure. What is your order number?"
    assert "A1029 has shipped" in reply(await say(conv, "A1029", "en"))


@pytest.mark.parametrize("case,outcome", [("unknown-tool", "none"), ("slow", "timeout"), ("no-call", "none")])
async def test_no_usable_tool_leaves_the_turn_to_the_knowledge_base(llm_core: ActionCore, case: str,
                                                                   outcome: str) -> None:
    backend = llm_core.backend
    if case == "unknown-tool":
        backend.llm_reply = tool_call("delete_everything", {})
    elif case == "slow":
        backend.llm_delay_s = 1.0  # past the 0.5 s budget
        backend.llm_reply = tool_call("return_request", {"order_number": "A1029"})
    conv = llm_core.open()
    events = await say(conv, "Something is off with A1029, the colours look strange", "en")
    assert [p for _, p, _ in backend.requests if p.startswith("/api/")] == []  # no action was called
    assert backend.returns == [] and reply(events)  # and the caller got a reply all the same
    assert [r["outcome"] for r in llm_core.rows("tool-route")] == [outcome]
    assert len(backend.llm_requests) == 1
