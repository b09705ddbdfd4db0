"""Reasoning: effort on the request, instruction for <think> models, splitting answers."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gatewise._exceptions import BadRequestError
from gatewise.catalogue._model_info import ModelInfo
from gatewise.providers.mistral.reasoning import (
    REASONING_INSTRUCTION,
    ThinkSplitter,
    nearest_level,
    split_think_text,
)
from tests.providers.mistral._helpers import INSTRUCTED, NATIVE, PLAIN, body

FIRST_SENTENCE = ("When solving problems, think step-by-step in <think> tags before "
                  "providing your final answer.")


# ---- native models -------------------------------------------------------------------

@pytest.mark.parametrize(("params", "sent"), [
    ({"reasoning_effort": "high"}, "high"),
    ({"reasoning_effort": "none"}, "none"),
    ({"reasoning_effort": "medium"}, "high"),
    ({"reasoning_effort": "low"}, "high"),  # equally far from none and high: higher wins
    ({"reasoning_effort": "minimal"}, "none"),
    ({"reasoning_effort": "max"}, "high"),
    ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, "high"),
    ({"thinking": {"type": "disabled"}}, "none"),
    ({"reasoning_effort": "none", "thinking": {"type": "enabled"}}, "none"),
])
def test_native_models_get_the_nearest_accepted_level(params: dict[str, Any],
                                                      sent: str) -> None:
    out = body(model_info=NATIVE, **params)
    assert out["reasoning_effort"] == sent
    assert "thinking" not in out


@pytest.mark.parametrize(("effort", "levels", "nearest"), [
    ("medium", ("none", "minimal", "low", "medium", "high", "xhigh", "max"), "medium"),
    ("max", ("none", "low", "medium", "high", "xhigh"), "xhigh"),
    ("minimal", ("low", "high"), "low"),
    ("medium", ("low", "high"), "high"),
    ("xhigh", ("none", "high"), "high"),
    ("none", ("low", "high"), "low"),
    ("max", (), "xhigh"),  # no list: the public spec's levels
    ("medium", ("bogus",), "medium"),
])
def test_nearest_level(effort: str, levels: tuple[str, ...], nearest: str) -> None:
    assert nearest_level(effort, levels) == nearest


@pytest.mark.parametrize("info", [None, PLAIN])
@pytest.mark.parametrize("params", [{"reasoning_effort": "high"},
                                    {"thinking": {"type": "enabled"}}])
def test_models_without_reasoning_drop_it_silently(info: Any, params: dict[str, Any]) -> None:
    out = body(model_info=info, **params)
    assert "reasoning_effort" not in out
    assert "thinking" not in out
    assert out["messages"] == [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize("params", [{"reasoning_effort": "extreme"},
                                    {"thinking": {"type": "sometimes"}}, {"thinking": True}])
def test_bad_effort_values_are_refused(params: dict[str, Any]) -> None:
    with pytest.raises(BadRequestError):
        body(model_info=NATIVE, **params)


# ---- instructed models ---------------------------------------------------------------

def test_instruction_is_clean_and_complete() -> None:
    assert REASONING_INSTRUCTION.startswith(FIRST_SENTENCE)
    assert "</think>" in REASONING_INSTRUCTION
    assert not re.search(r"[\x00-\x1f\x7f]", REASONING_INSTRUCTION)
    assert not re.search(r"\[/?[A-Z_]+\]|<s>|</s>|\{\{", REASONING_INSTRUCTION)


def test_instruction_becomes_the_system_prompt() -> None:
    out = body(model_info=INSTRUCTED, reasoning_effort="high")
    assert "reasoning_effort" not in out
    assert out["messages"] == [{"role": "system", "content": REASONING_INSTRUCTION},
                               {"role": "user", "content": "Hi"}]


@pytest.mark.parametrize("role", ["system", "developer"])
def test_instruction_goes_in_front_of_the_system_prompt(role: str) -> None:
    out = body([{"role": role, "content": "Be brief."}, {"role": "user", "content": "Hi"}],
               model_info=INSTRUCTED, thinking={"type": "enabled"})
    assert out["messages"] == [
        {"role": "system", "content": f"{REASONING_INSTRUCTION}\n\nBe brief."},
        {"role": "user", "content": "Hi"}]


def test_instruction_in_front_of_a_chunked_system_prompt() -> None:
    out = body([{"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
                {"role": "user", "content": "Hi"}], model_info=INSTRUCTED,
               reasoning_effort="low")
    assert out["messages"][0] == {"role": "system", "content": [
        {"type": "text", "text": f"{REASONING_INSTRUCTION}\n\n"},
        {"type": "text", "text": "Be brief."}]}


@pytest.mark.parametrize("params", [{}, {"reasoning_effort": "none"},
                                    {"thinking": {"type": "disabled"}}])
def test_no_instruction_without_a_wish_to_reason(params: dict[str, Any]) -> None:
    out = body(model_info=INSTRUCTED, **params)
    assert out["messages"] == [{"role": "user", "content": "Hi"}]


def test_reasoning_history_is_left_out_for_instructed_models() -> None:
    out = body([{"role": "user", "content": "q"},
                {"role": "assistant", "content": "a", "reasoning_content": "r"},
                {"role": "user", "content": "q2"}], model_info=INSTRUCTED)
    assert out["messages"][1] == {"role": "assistant", "content": "a"}


def test_native_levels_come_from_the_model_info() -> None:
    info = ModelInfo(provider="mistral", model="glm-5-2", reasoning="native",
                     reasoning_effort_levels=("none", "minimal", "low", "medium", "high"))
    assert body(model_info=info, reasoning_effort="medium")["reasoning_effort"] == "medium"


# ---- splitting <think> text ----------------------------------------------------------

@pytest.mark.parametrize(("text", "reasoning", "content"), [
    ("plain answer", "", "plain answer"),
    ("  spaced  ", "", "  spaced  "),
    ("<think>\nLet me see.\n</think>\n\nThe answer is 4.", "Let me see.", "The answer is 4."),
    ("<think>a</think>b", "a", "b"),
    ("\n<think>a</think>\nb\n", "a", "b\n"),
    ("Intro <think>r</think> done", "r", "Intro done"),
    ("<think>unfinished thoughts\n", "unfinished thoughts", ""),
    ("<think>", "", ""),
    ("<think>one</think>mid<think>two</think>end", "one\n\ntwo", "midend"),
    ("no tags but a < sign and </think>", "", "no tags but a < sign and </think>"),
    ("<think>x</thin", "x</thin", ""),
    ("ends with <thi", "", "ends with <thi"),
])
def test_split_think_text(text: str, reasoning: str, content: str) -> None:
    assert split_think_text(text) == (reasoning, content)


def test_tags_split_across_pieces_are_found() -> None:
    splitter = ThinkSplitter()
    pieces = ["<th", "ink>\nI think", " hard", "ly.\n</", "think", ">\n", "Done", "."]
    said = [splitter.feed(piece) for piece in pieces] + [splitter.flush()]
    assert "".join(r for r, _ in said) == "I think hardly."
    assert "".join(c for _, c in said) == "Done."
    assert said[0] == ("", "")  # only a possible partial tag so far: held back


def test_plain_text_passes_straight_through() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("Hello") == ("", "Hello")
    assert splitter.feed(" world ") == ("", " world ")
