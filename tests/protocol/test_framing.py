"""Framing and command parsing, driven from memory (no sockets)."""

from __future__ import annotations

import json
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stt_dictation.protocol.commands import (
    COMMAND_ADAPTER,
    COMMAND_TYPES,
    Cancel,
    GetHistory,
    GetStatus,
    Paste,
    Shutdown,
    Start,
    Stop,
    Subscribe,
    Toggle,
    Transcribe,
)
from stt_dictation.protocol.framing import LineDecoder, LineTooLong, check_version, encode, parse_command
from stt_dictation.protocol.messages import ErrorCode, ErrorReply
from stt_dictation.protocol.wire import MAX_LINE_BYTES, PROTOCOL_VERSION

# --- LineDecoder -------------------------------------------------------------------------


def test_splits_several_lines_in_one_feed():
    d = LineDecoder()
    assert d.feed(b"a\nbb\n\nccc\n") == [b"a", b"bb", b"", b"ccc"]
    assert d.pending == 0


def test_partial_line_is_kept_across_feeds():
    d = LineDecoder()
    assert d.feed(b'{"type":') == []
    assert d.pending == len(b'{"type":')
    assert d.feed(b'"sta') == []
    assert d.feed(b'tus"}\n{"type"') == [b'{"type":"status"}']
    assert d.pending == len(b'{"type"')
    assert d.feed(b':"toggle"}\n') == [b'{"type":"toggle"}']
    assert d.pending == 0


def test_byte_at_a_time_equals_all_at_once():
    data = b'{"type":"status"}\n\nxyz\n{"type":"history","limit":3}\ntrailing'
    whole = LineDecoder().feed(data)
    d = LineDecoder()
    pieces = []
    for i in range(len(data)):
        pieces += d.feed(data[i : i + 1])
    assert pieces == whole == [b'{"type":"status"}', b"", b"xyz", b'{"type":"history","limit":3}']
    assert d.pending == len(b"trailing")


def test_line_of_exactly_the_limit_is_accepted():
    d = LineDecoder(limit=10)
    assert d.feed(b"0123456789\n") == [b"0123456789"]
    # the same line split across feeds
    assert d.feed(b"01234") == []
    assert d.feed(b"56789") == []
    assert d.pending == 10
    assert d.feed(b"\nok\n") == [b"0123456789", b"ok"]


def test_line_one_over_the_limit_is_reported_and_discarded():
    d = LineDecoder(limit=10)
    out = d.feed(b"0123456789A\nnext\n")
    assert len(out) == 2
    assert isinstance(out[0], LineTooLong) and out[0].size == 11
    assert out[1] == b"next"


def test_oversized_line_across_feeds_is_skipped_to_its_newline():
    d = LineDecoder(limit=10)
    assert d.feed(b"01234567") == []
    assert d.feed(b"89ABCDEF") == []  # over the limit now: buffer dropped
    assert d.pending == 0
    assert d.feed(b"more junk without newline") == []
    assert d.pending == 0
    out = d.feed(b"tail\nafter\n")
    assert [type(x) for x in out] == [LineTooLong, bytes]
    assert out[0].size == 8 + 8 + len(b"more junk without newline") + 4
    assert out[1] == b"after"
    # and the decoder is back to normal
    assert d.feed(b"x\n") == [b"x"]


def test_default_limit_is_64_kib():
    assert MAX_LINE_BYTES == 64 * 1024
    assert LineDecoder().limit == MAX_LINE_BYTES
    d = LineDecoder()
    exact = b"a" * MAX_LINE_BYTES
    assert d.feed(exact + b"\n") == [exact]
    out = d.feed(exact + b"a\n")
    assert len(out) == 1 and isinstance(out[0], LineTooLong) and out[0].size == MAX_LINE_BYTES + 1


def test_endless_line_does_not_grow_memory():
    """10 MiB without a newline: the decoder never holds more than its limit."""
    d = LineDecoder()
    chunk = b"z" * 16384
    tracemalloc.start()
    try:
        for _ in range(640):
            assert d.feed(chunk) == []
            assert d.pending <= MAX_LINE_BYTES
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The buffer is at most 64 KiB; allow it twice (bytearray over-allocation) plus chunk copies.
    assert peak < 4 * MAX_LINE_BYTES, f"decoder peaked at {peak} bytes"
    out = d.feed(b"\n")
    assert len(out) == 1 and isinstance(out[0], LineTooLong) and out[0].size == 640 * 16384


def test_line_too_long_repr():
    assert repr(LineTooLong(5)) == "LineTooLong(5)"


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(st.binary(max_size=40) | st.just(b"\n") | st.just(b"x" * 30), max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=8),
    limit=st.integers(min_value=1, max_value=50),
)
def test_decoder_matches_a_simple_model(data, cuts, limit):
    """However the stream is cut, the decoder yields what splitting on newlines says."""
    stream = b"".join(data)
    expected = []
    parts = stream.split(b"\n")
    for line in parts[:-1]:
        expected.append(("long", len(line)) if len(line) > limit else ("line", line))
    d = LineDecoder(limit=limit)
    got = []
    pos = 0
    for c in sorted(set(min(c, len(stream)) for c in cuts)) + [len(stream)]:
        for item in d.feed(stream[pos:c]):
            got.append(("long", item.size) if isinstance(item, LineTooLong) else ("line", item))
        pos = c
        assert d.pending <= limit
    assert got == expected
    tail = parts[-1]
    assert d.pending == (len(tail) if len(tail) <= limit else 0)


# --- encode -------------------------------------------------------------------------------


def test_encode_is_one_json_line():
    line = encode(GetStatus())
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {"v": PROTOCOL_VERSION, "type": "status"}


# --- parse_command: every command ---------------------------------------------------------

VALID = [
    ({"type": "toggle"}, Toggle),
    ({"type": "start"}, Start),
    ({"type": "stop"}, Stop),
    ({"type": "cancel"}, Cancel),
    ({"type": "status"}, GetStatus),
    ({"type": "subscribe"}, Subscribe),
    ({"type": "subscribe", "history": 5}, Subscribe),
    ({"type": "history"}, GetHistory),
    ({"type": "history", "limit": 3}, GetHistory),
    ({"type": "transcribe", "paths": ["/tmp/a.wav", "/tmp/b.flac"]}, Transcribe),
    ({"type": "paste"}, Paste),
    ({"type": "shutdown"}, Shutdown),
]


def test_valid_cases_cover_every_command_type():
    assert {c["type"] for c, _ in VALID} == set(COMMAND_TYPES)


@pytest.mark.parametrize("with_version", [True, False])
@pytest.mark.parametrize(("obj", "model"), VALID, ids=[f"{o['type']}-{len(o)}" for o, _ in VALID])
def test_parse_every_command(obj, model, with_version):
    if with_version:
        obj = {"v": PROTOCOL_VERSION, **obj}
    cmd = parse_command(json.dumps(obj).encode())
    assert isinstance(cmd, model), cmd
    assert cmd.v == PROTOCOL_VERSION
    for k, v in obj.items():
        assert getattr(cmd, k) == v
    assert check_version(cmd) is None
    # and a parsed command re-encodes to a line that parses to the same command
    assert parse_command(encode(cmd).rstrip(b"\n")) == cmd


def test_defaults():
    assert parse_command(b'{"type":"history"}').limit == 20
    assert parse_command(b'{"type":"subscribe"}').history == 0


def test_whitespace_around_json_is_fine():
    assert isinstance(parse_command(b'  {"type" : "status"}  \r'), GetStatus)


# --- parse_command: errors ---------------------------------------------------------------


def _err(line: bytes) -> ErrorReply:
    r = parse_command(line)
    assert isinstance(r, ErrorReply), f"{line!r} parsed as {r!r}"
    return r


@pytest.mark.parametrize(
    "line", [b"\xff", b'{"type":"status"}\xff', b'{"type":"\xc3"}', b"\xed\xa0\x80", b"\xc0\xaf"]
)
def test_invalid_utf8_is_bad_frame(line):
    r = _err(line)
    assert r.code == ErrorCode.BAD_FRAME
    assert "UTF-8" in r.message


@pytest.mark.parametrize("line", [b"", b"{", b"not json", b'{"type":"status"', b"{'type':'status'}", b'{"type":"status"} x', b"NaN x"])
def test_invalid_json_is_bad_frame(line):
    r = _err(line)
    assert r.code == ErrorCode.BAD_FRAME
    assert "JSON" in r.message


@pytest.mark.parametrize("tag", ["frobnicate", "", "STATUS", "status ", 5, None, True])
def test_unknown_command(tag):
    r = _err(json.dumps({"type": tag}).encode())
    assert r.code == ErrorCode.UNKNOWN_COMMAND
    assert r.field == "type"
    assert "'type'" in r.message
    assert "status" in r.message  # it lists what is known


def test_missing_type():
    r = _err(b'{"limit": 3}')
    assert r.code == ErrorCode.INVALID_COMMAND
    assert r.field == "type"
    assert "'type'" in r.message


@pytest.mark.parametrize("line", [b"[]", b"1", b'"status"', b"null", b"true", b'[{"type":"status"}]'])
def test_not_an_object(line):
    r = _err(line)
    assert r.code == ErrorCode.INVALID_COMMAND
    assert "object" in r.message


WRONG_FIELDS = [
    ({"type": "history", "limit": "many"}, "limit"),
    ({"type": "history", "limit": 1.5}, "limit"),
    ({"type": "history", "limit": 0}, "limit"),
    ({"type": "history", "limit": 10001}, "limit"),
    ({"type": "history", "limit": None}, "limit"),
    ({"type": "history", "limit": [1]}, "limit"),
    ({"type": "subscribe", "history": -1}, "history"),
    ({"type": "subscribe", "history": 1001}, "history"),
    ({"type": "subscribe", "history": {}}, "history"),
    ({"type": "transcribe"}, "paths"),
    ({"type": "transcribe", "paths": []}, "paths"),
    ({"type": "transcribe", "paths": "/tmp/a.wav"}, "paths"),
    ({"type": "transcribe", "paths": [1]}, "paths.0"),
    ({"type": "transcribe", "paths": ["/a", ""]}, "paths.1"),
    ({"type": "transcribe", "paths": ["/a"] * 65}, "paths"),
    ({"type": "transcribe", "paths": ["/" + "a" * 4096]}, "paths.0"),
    ({"type": "status", "v": "one"}, "v"),
    ({"type": "status", "v": 1.5}, "v"),
    ({"type": "status", "v": None}, "v"),
    ({"type": "toggle", "extra": 1}, "extra"),
    ({"type": "shutdown", "now": True}, "now"),
]


@pytest.mark.parametrize(("obj", "field"), WRONG_FIELDS, ids=[f"{o['type']}-{f}-{i}" for i, (o, f) in enumerate(WRONG_FIELDS)])
def test_wrong_field_names_the_field(obj, field):
    r = _err(json.dumps(obj).encode())
    assert r.code == ErrorCode.INVALID_COMMAND
    assert r.field == field
    assert f"field '{field}'" in r.message
    assert len(r.message) < 400


def test_other_version_is_refused_by_check_version():
    cmd = parse_command(b'{"type":"status","v":2}')
    assert isinstance(cmd, GetStatus)
    r = check_version(cmd)
    assert isinstance(r, ErrorReply)
    assert r.code == ErrorCode.VERSION_MISMATCH
    assert r.field == "v"
    assert "field 'v'" in r.message and "2" in r.message


HUGE = {
    "huge-tag": lambda n: b'{"type":"' + b"x" * (n - 12) + b'"}',  # unknown command with a huge tag
    "huge-field-name": lambda n: b'{"type":"status","' + b"k" * (n - 30) + b'":1}',  # huge unknown field
    "huge-value": lambda n: b'{"type":"status","v":"' + b"k" * (n - 30) + b'"}',  # huge wrong value
}


@pytest.mark.parametrize("kind", sorted(HUGE))
def test_error_reply_to_a_line_within_the_limit_fits_the_limit(kind):
    """A reply is a line too: it must respect the protocol's own 64 KiB limit (the client enforces it)."""
    line = HUGE[kind](MAX_LINE_BYTES)
    assert len(line) <= MAX_LINE_BYTES
    r = _err(line)
    size = len(encode(r)) - 1
    del line
    assert size <= MAX_LINE_BYTES, f"{r.code} reply of {size} bytes to a line within the limit"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_parse_command_never_raises_on_bytes(data):
    r = parse_command(data)
    if isinstance(r, ErrorReply):
        assert r.code in {ErrorCode.BAD_FRAME, ErrorCode.INVALID_COMMAND, ErrorCode.UNKNOWN_COMMAND}
        assert r.message
    else:  # pragma: no cover - random bytes are practically never a command
        assert r.type in COMMAND_TYPES


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {"type": st.sampled_from(sorted(COMMAND_TYPES)) | st.text(max_size=10)},
        optional={"v": _json, "limit": _json, "history": _json, "paths": _json, "extra": _json},
    )
)
def test_commandish_dicts_parse_or_get_a_typed_error(obj):
    r = parse_command(json.dumps(obj).encode())
    if isinstance(r, ErrorReply):
        assert r.code in {ErrorCode.INVALID_COMMAND, ErrorCode.UNKNOWN_COMMAND}
        if r.code == ErrorCode.INVALID_COMMAND:
            assert r.field is not None
            assert f"field '{r.field}'" in r.message
    else:
        assert r.type == obj["type"]
        assert COMMAND_ADAPTER.validate_python(r.model_dump()) == r
