"""The JSON edge every protocol shares: depth-limited parsing, always-encodable output."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.protocol.wire import MAX_DEPTH, JsonTooDeep, check_depth, clean_text, dumps_wire, loads_bounded


def nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 200, 10_000, 100_000])
def test_deep_nesting_is_refused_before_parsing(depth: int) -> None:
    with pytest.raises(JsonTooDeep):
        loads_bounded(nested(depth))
    with pytest.raises(ValueError):  # what every caller catches
        loads_bounded('{"a": ' + nested(depth, "[", "]") + "}")


def test_nesting_up_to_the_limit_and_brackets_in_strings_are_fine() -> None:
    assert loads_bounded(nested(MAX_DEPTH)) == json.loads(nested(MAX_DEPTH))
    text = json.dumps({"text": "[" * 5000 + "{" * 5000, "quote": 'a "[[[[" \\ [[[['})
    assert loads_bounded(text)["text"].startswith("[[[")
    check_depth(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}')


def test_lone_surrogates_become_replacement_characters_on_the_wire() -> None:
    payload = {"type": "transcript.final", "text": json.loads('"hi \\ud800 there \\udc00"')}
    frame = dumps_wire(payload)
    frame.encode("utf-8")  # what websockets does on send: must not raise
    assert json.loads(frame)["text"] == "hi \ufffd there \ufffd"
    assert dumps_wire({"text": "你好 😀"}) == '{"text":"你好 😀"}'  # valid pairs untouched
    paired = json.loads('"\\ud83d\\ude00"')  # a JSON escape pair is one character: kept
    assert clean_text(paired) == "😀" and json.loads(dumps_wire([paired])) == ["😀"]


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(), kids, max_size=3),
                    max_leaves=20))
def test_bounded_parsing_agrees_with_json_on_shallow_documents(value: object) -> None:
    text = json.dumps(value)
    assert loads_bounded(text) == json.loads(text)
    dumps_wire(value).encode("utf-8")
