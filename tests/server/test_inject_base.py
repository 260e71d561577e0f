"""inject_base: running a tool (its stdout, errors a person can act on, Refused when the desktop said no), clean-up."""

from __future__ import annotations

import asyncio

import pytest

from stt_dictation.server.inject_base import InjectError, Injector, Refused, clean, run_tool, tool_env


def test_stdout_comes_back_and_stdin_goes_in():
    assert asyncio.run(run_tool(["cat"], timeout=5, stdin="héllo".encode())) == "héllo"


def test_a_missing_tool_is_named():
    with pytest.raises(InjectError, match="no-such-tool-xyz is not installed or not on PATH"):
        asyncio.run(run_tool(["no-such-tool-xyz"], timeout=5))


def test_a_failure_reports_the_exit_status_and_the_last_stderr_line():
    with pytest.raises(InjectError, match=r"^sh failed \(exit 4\): second$") as info:
        asyncio.run(run_tool(["sh", "-c", "echo first >&2; echo second >&2; exit 4"], timeout=5))
    assert not isinstance(info.value, Refused)


def test_a_recognised_refusal_is_refused_and_anything_else_is_not():
    said_no = lambda err: b"does not support" in err  # noqa: E731
    with pytest.raises(Refused):
        asyncio.run(run_tool(["sh", "-c", "echo 'Compositor does not support it' >&2; exit 1"], timeout=5, refusal=said_no))
    with pytest.raises(InjectError) as info:
        asyncio.run(run_tool(["sh", "-c", "echo 'display gone' >&2; exit 1"], timeout=5, refusal=said_no))
    assert not isinstance(info.value, Refused)


def test_extra_env_reaches_the_tool_and_secrets_do_not(monkeypatch):
    monkeypatch.setenv("STT_API_KEY", "sk-secret")
    out = asyncio.run(run_tool(["sh", "-c", 'echo "$EXTRA:${STT_API_KEY:-none}"'], timeout=5, extra_env={"EXTRA": "yes"}))
    assert out.strip() == "yes:none"
    assert "STT_API_KEY" not in tool_env()


def test_clean_never_leaves_controls_or_escapes():
    assert clean("a\x1b[31mred\x1b[0m\nb\tc\u2028d") == "a red b c d"
    assert clean("say new line", {"new line": "\n"}) == "say"  # a replacement cannot press Enter


def test_problem_names_the_missing_tools_and_press_is_refused_by_default(tmp_path, monkeypatch):
    class Two(Injector):
        name = "two"
        tools = ("sh", "missing-one-xyz")

        async def type(self, text):
            pass

    assert Two().problem() == "missing-one-xyz not found on PATH"
    with pytest.raises(InjectError, match="two cannot press keys"):
        asyncio.run(Two().press("ctrl+v"))
