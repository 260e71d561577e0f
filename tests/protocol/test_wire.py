"""The standard-library part of the protocol: it stays light, both programs compute one socket address and
read the same peer credentials, and its flat-JSON parser agrees with `json`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stt_dictation.protocol import messages as m
from stt_dictation.protocol.wire import ENV_VAR, MAX_LINE_BYTES, MAX_REPLY_BYTES, decode_flat, display_address, peer_credentials, socket_address

# --- light ------------------------------------------------------------------------------------

_PROBE = """
import sys
before = set(sys.modules)
import stt_dictation.protocol.wire
print("\\n".join(sorted(set(sys.modules) - before)))
"""


def test_the_standard_library_part_imports_nothing_heavy():
    """Only the package, the module and `_socket`: no pydantic, no json, not even `re`."""
    p = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=30, check=True)
    loaded = set(p.stdout.split())
    assert "stt_dictation.protocol.wire" in loaded  # the probe saw the import
    assert loaded - {"stt_dictation", "stt_dictation.protocol", "stt_dictation.protocol.wire", "_socket", "__future__"} == set()


def test_limits():
    assert MAX_LINE_BYTES == 64 * 1024
    assert MAX_REPLY_BYTES == 16 * 1024 * 1024


# --- the control socket ---------------------------------------------------------------------


def test_default_is_the_uid_in_the_abstract_namespace():
    assert socket_address({}, uid=1234) == "\0stt-1234"
    assert socket_address({ENV_VAR: "  "}, uid=7) == "\0stt-7"
    assert socket_address({}) == f"\0stt-{os.getuid()}"


@pytest.mark.parametrize(("value", "address"), [("stt-test", "\0stt-test"), ("@stt-test", "\0stt-test"), (" x ", "\0x"), ("a/b", "\0a/b")])
def test_stt_socket_names_another_abstract_socket(value, address):
    assert socket_address({ENV_VAR: value}) == address


@pytest.mark.parametrize("value", ["/run/stt.sock", "@", "@/x", "a\0b", "x" * 101])
def test_names_that_are_no_abstract_socket_are_refused(value):
    with pytest.raises(ValueError, match=ENV_VAR):
        socket_address({ENV_VAR: value})


def test_display_address():
    assert display_address("\0stt-5") == "@stt-5"
    assert display_address("/tmp/x") == "/tmp/x"


def test_peer_credentials_name_this_process():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        assert peer_credentials(a) == (os.getpid(), os.getuid(), os.getgid())


# --- flat JSON ---------------------------------------------------------------------------------

_scalars = (
    st.text()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
)
_flat = st.dictionaries(st.text(max_size=12), _scalars, max_size=8)
_nested = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(_flat, st.sampled_from([(",", ":"), (", ", ": ")]))
def test_flat_objects_parse_as_json_does(obj, separators):
    """Any flat object, with every string escaped to ASCII (`\\uXXXX`, surrogate pairs included)."""
    line = json.dumps(obj, separators=separators).encode()
    assert decode_flat(line) == json.loads(line)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12), _scalars.filter(lambda v: not isinstance(v, str)) | st.text(st.characters(blacklist_categories=("Cs",))), max_size=8))
def test_raw_utf8_strings_parse_as_json_does(obj):
    """pydantic writes non-ASCII text as raw UTF-8, not escaped."""
    line = json.dumps(obj, ensure_ascii=False).encode()
    assert decode_flat(line) == json.loads(line)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=5), _nested, max_size=4))
def test_any_object_parses_as_json_does_or_is_refused(obj):
    """Never a wrong answer: a nested value is refused with ValueError, so the client falls back to json."""
    line = json.dumps(obj).encode()
    try:
        got = decode_flat(line)
    except ValueError:
        assert any(isinstance(v, (list, dict)) for v in obj.values())
        return
    assert got == json.loads(line)


@pytest.mark.parametrize(
    "msg",
    [
        m.Ok(state="recording", message="recording 3"),
        m.Ok(state="idle", message="héllo \"wörld\" \\ \n 🎤"),
        m.ErrorReply(code=m.ErrorCode.NOT_READY, message="model loading", field=None),
        m.Status(state="error", pid=1, version="0.1.0", model="m", backend="wyoming://h:1", injector="x", pending=2, held=1, error="mic ⚠", uptime=1e-7),
    ],
    ids=lambda x: type(x).__name__,
)
def test_the_hotkey_replies_parse_as_json_does(msg):
    line = msg.model_dump_json().encode()
    assert decode_flat(line) == json.loads(line)


@pytest.mark.parametrize(
    "line",
    [b"[1, 2]", b'"text"', b"", b'{"a": {"b": 1}}', b'{"a": [1]}', b'{"a": "\\x"}', b'{"a": "open', b"{1: 2}", b'{"a": 1', b"\xff"],
)
def test_what_is_not_a_flat_object_is_refused_with_value_error(line):
    with pytest.raises(ValueError):
        decode_flat(line)


def test_a_lone_high_surrogate_before_another_escape_stays_alone():
    line = b'{"a": "\\ud800\\u0041"}'
    assert decode_flat(line) == json.loads(line) == {"a": "\ud800A"}
