"""The pydantic models: every reply and event round-trips through JSON and the adapters (commands: test_commands.py)."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from stt_dictation.protocol import commands as c
from stt_dictation.protocol import messages as m
from stt_dictation.protocol.framing import encode

ENTRY = m.HistoryEntry(
    seq=7,
    recording=2,
    status="typed",
    text="héllo, wörld \"quoted\" \\ back\nslash",
    audio_seconds=1.25,
    speech_end=1700000000.5,
    transcribed_at=1700000000.9,
    typed_at=1700000001.2,
    note=None,
)

REPLIES: list[BaseModel] = [
    m.Ok(state="idle"),
    m.Ok(state="recording", message="recording 3"),
    m.ErrorReply(code=m.ErrorCode.LINE_TOO_LONG, message="too long"),
    m.ErrorReply(code=m.ErrorCode.INVALID_COMMAND, message="field 'limit': bad", field="limit"),
    m.Status(state="loading", pid=123, version="0.1.0", model="tiny.en", backend="local", injector="none", pending=0),
    m.Status(
        state="error",
        pid=1,
        version="0.1.0",
        model="m",
        backend="wyoming://host:1",
        injector="xdotool",
        pending=2,
        held=1,
        error="mic gone",
        input_device="hw:1",
        recording_seconds=3.5,
        uptime=99.0,
    ),
    m.History(entries=[]),
    m.History(entries=[ENTRY, m.HistoryEntry(seq=8, recording=2, status="held", note="focus moved")]),
    m.Transcripts(files=[m.FileTranscript(path="/tmp/a.wav", text="hi", seconds=1.0, elapsed=0.1)]),
]

EVENTS: list[BaseModel] = [
    m.StateChanged(state="idle", at=1.0),
    m.StateChanged(state="error", error="cannot open input device", at=2.0),
    m.RecordingStarted(recording=1, at=3.0),
    m.RecordingStopped(recording=1, at=4.0),
    m.RecordingStopped(recording=2, cancelled=True, at=5.0),
    m.PhraseEvent(entry=ENTRY),
    m.PhraseEvent(entry=ENTRY, latency=0.42),
    m.Fault(code=m.ErrorCode.AUDIO, message="microphone stopped", at=6.0),
]


def _union_members(annotated) -> set[type]:
    union = typing.get_args(annotated)[0]
    return set(typing.get_args(union))


def test_samples_cover_every_reply_and_event_model():
    assert {type(x) for x in REPLIES} == _union_members(m.Reply)
    assert {type(x) for x in EVENTS} == _union_members(m.Event)
    assert _union_members(m.ServerMessage) == _union_members(m.Reply) | _union_members(m.Event)


@pytest.mark.parametrize("msg", REPLIES, ids=lambda x: f"{type(x).__name__}")
def test_reply_round_trip(msg):
    line = msg.model_dump_json()
    assert "\n" not in line
    assert m.REPLY_ADAPTER.validate_json(line) == msg
    assert m.SERVER_MESSAGE_ADAPTER.validate_json(line) == msg
    assert type(msg).model_validate_json(line) == msg
    # through plain json as a client sees it
    assert m.REPLY_ADAPTER.validate_python(json.loads(line)) == msg
    # the framing helper writes the same thing plus one newline
    assert encode(msg) == line.encode() + b"\n"
    with pytest.raises(ValidationError):
        m.EVENT_ADAPTER.validate_json(line)


@pytest.mark.parametrize("msg", EVENTS, ids=lambda x: f"{type(x).__name__}")
def test_event_round_trip(msg):
    line = msg.model_dump_json()
    assert "\n" not in line
    assert m.EVENT_ADAPTER.validate_json(line) == msg
    assert m.SERVER_MESSAGE_ADAPTER.validate_json(line) == msg
    assert m.EVENT_ADAPTER.validate_python(json.loads(line)) == msg
    with pytest.raises(ValidationError):
        m.REPLY_ADAPTER.validate_json(line)


def test_type_tags_are_unique_across_commands_replies_and_events():
    tags = []
    for model in _union_members(m.ServerMessage):
        tags.append(model.model_fields["type"].default)
    assert len(tags) == len(set(tags))
    # `status` and `history` are both a command and a reply, on different adapters; nothing else overlaps
    assert set(tags) & set(c.COMMAND_TYPES) == {"status", "history"}


def test_messages_are_frozen_and_forbid_extra_fields():
    with pytest.raises(ValidationError):
        m.Ok(state="idle", surprise=1)
    with pytest.raises(ValidationError):
        m.REPLY_ADAPTER.validate_json('{"type":"ok","state":"idle","surprise":1}')
    ok = m.Ok(state="idle")
    with pytest.raises(ValidationError):
        ok.state = "recording"


def test_unknown_state_is_refused():
    with pytest.raises(ValidationError):
        m.REPLY_ADAPTER.validate_json('{"type":"ok","state":"sleeping"}')


def test_error_codes_are_documented_strings():
    values = [c.value for c in m.ErrorCode]
    assert len(values) == len(set(values))
    assert {"bad_frame", "line_too_long", "unknown_command", "invalid_command", "version_mismatch", "forbidden", "timeout"} <= set(values)
    for c in m.ErrorCode:
        assert c.value == c.value.lower() and " " not in c.value
        assert json.loads(m.ErrorReply(code=c, message="x").model_dump_json())["code"] == c.value


def test_the_readme_lists_exactly_the_error_codes():
    """Every code the server may send is documented, and nothing documented is never sent."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Protocol", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"`([a-z_]+)`", section.split("one of these codes:", 1)[1])
    assert sorted(listed) == sorted(c.value for c in m.ErrorCode)


_text = st.text(max_size=30)
_time = st.floats(min_value=0, max_value=4e9, allow_nan=False)
_entries = st.builds(
    m.HistoryEntry,
    seq=st.integers(min_value=0, max_value=2**40),
    recording=st.integers(min_value=0, max_value=2**40),
    status=st.sampled_from(typing.get_args(m.PhraseStatus)),
    text=_text,
    audio_seconds=_time,
    speech_end=st.none() | _time,
    transcribed_at=st.none() | _time,
    typed_at=st.none() | _time,
    note=st.none() | _text,
)
_states = st.sampled_from(typing.get_args(m.State))
_server_messages = st.one_of(
    st.builds(m.Ok, state=_states, message=_text),
    st.builds(m.ErrorReply, code=st.sampled_from(list(m.ErrorCode)), message=_text, field=st.none() | _text),
    st.builds(
        m.Status,
        state=_states,
        pid=st.integers(min_value=1, max_value=2**22),
        version=_text,
        model=_text,
        backend=_text,
        injector=_text,
        pending=st.integers(min_value=0, max_value=10**6),
        held=st.integers(min_value=0, max_value=10**6),
        error=st.none() | _text,
        input_device=st.none() | _text,
        recording_seconds=_time,
        uptime=_time,
    ),
    st.builds(m.History, entries=st.lists(_entries, max_size=3)),
    st.builds(m.Transcripts, files=st.lists(st.builds(m.FileTranscript, path=_text, text=_text, seconds=_time, elapsed=_time), max_size=3)),
    st.builds(m.StateChanged, state=_states, error=st.none() | _text, at=_time),
    st.builds(m.RecordingStarted, recording=st.integers(min_value=0, max_value=10**9), at=_time),
    st.builds(m.RecordingStopped, recording=st.integers(min_value=0, max_value=10**9), cancelled=st.booleans(), at=_time),
    st.builds(m.PhraseEvent, entry=_entries, latency=st.none() | _time),
    st.builds(m.Fault, code=st.sampled_from(list(m.ErrorCode)), message=_text, at=_time),
)


@settings(max_examples=200, deadline=None)
@given(_server_messages)
def test_any_server_message_round_trips(msg):
    line = encode(msg)
    assert line.count(b"\n") == 1  # text with newlines is escaped, so framing holds
    assert m.SERVER_MESSAGE_ADAPTER.validate_json(line) == msg
