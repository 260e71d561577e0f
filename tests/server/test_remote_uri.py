"""`--remote` URIs: what parses, what is refused with what is expected, and that secrets never show."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from stt_dictation.server import remote_uri
from stt_dictation.server.remote_uri import display_uri, parse_remote


def test_parsing_needs_the_standard_library_alone():
    # settings.py validates --remote with it: it must not pull in a client library.
    tree = ast.parse(Path(remote_uri.__file__).read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "." for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert names and {m.split(".")[0] for m in names} <= set(sys.stdlib_module_names) | {"__future__"}



@pytest.mark.parametrize(
    "uri, protocol, display",
    [
        ("tcp://127.0.0.1:10300", "wyoming", "tcp://127.0.0.1:10300"),
        ("tcp://whisper.lan:10300/", "wyoming", "tcp://whisper.lan:10300"),
        ("tcp://[::1]:10300", "wyoming", "tcp://[::1]:10300"),
        ("unix:///run/user/1000/wyoming.sock", "wyoming", "unix:///run/user/1000/wyoming.sock"),
        ("http://localhost:8000/v1", "openai", "http://localhost:8000/v1"),
        ("http://127.0.0.1:8000/v1/", "openai", "http://127.0.0.1:8000/v1"),
        ("https://api.openai.com/v1", "openai", "https://api.openai.com/v1"),
        ("https://api.groq.com/openai/v1", "openai", "https://api.groq.com/openai/v1"),
        ("HTTPS://api.example.com/v1", "openai", "https://api.example.com/v1"),
    ],
)
def test_parse_remote_accepts(uri, protocol, display):
    t = parse_remote(uri)
    assert t.protocol == protocol
    assert t.display == display


@pytest.mark.parametrize(
    "uri, says",
    [
        ("", "no scheme"),
        ("localhost:10300", "no scheme"),
        ("whisper.lan", "no scheme"),
        ("ftp://host/v1", "expected tcp://HOST:PORT"),
        ("ws://host:8000/v1", "expected tcp://HOST:PORT"),
        ("stdio://", "expected tcp://HOST:PORT"),
        ("tcp://host", "tcp://HOST:PORT"),
        ("tcp://:10300", "tcp://HOST:PORT"),
        ("tcp://host:0", "port 0"),
        ("tcp://host:notaport", "expected tcp://HOST:PORT"),
        ("tcp://host:70000", "expected tcp://HOST:PORT"),
        ("tcp://host:10300/path", "no path"),
        ("unix://relative/sock", "unix:///PATH"),
        ("unix://", "unix:///PATH"),
        ("http://host", "/v1"),
        ("https://", "needs a host"),
    ],
)
def test_parse_remote_rejects_with_what_is_expected(uri, says):
    with pytest.raises(ValueError) as err:
        parse_remote(uri)
    assert says in str(err.value)


def test_display_strips_secrets():
    t = parse_remote("https://alice:sk-uri-secret@api.example.com:8443/v1?api-key=q-secret&x=1")
    assert t.display == "https://api.example.com:8443/v1"
    assert "sk-uri-secret" not in repr(t) and "q-secret" not in repr(t)
    assert t.secrets() == ["sk-uri-secret", "alice", "api-key=q-secret&x=1"]
    w = parse_remote("tcp://bob:pw-secret@10.0.0.5:10300?token=t-secret")
    assert w.display == "tcp://10.0.0.5:10300"
    # A URI that does not parse is echoed without its secrets too.
    with pytest.raises(ValueError) as err:
        parse_remote("htps://alice:sk-bad-secret@host/v1?k=q-bad-secret")
    assert "sk-bad-secret" not in str(err.value) and "q-bad-secret" not in str(err.value)
    assert display_uri("htps://alice:sk-bad-secret@host/v1?k=q-bad-secret") == "htps://host/v1"
    assert display_uri("https://alice:sk-uri-secret@api.example.com/v1?k=q") == "https://api.example.com/v1"
    assert display_uri(None) is None


@pytest.mark.parametrize(
    "uri, loopback",
    [
        ("http://127.0.0.1:8000/v1", True),
        ("http://localhost:8000/v1", True),
        ("http://whisper.localhost/v1", True),
        ("http://[::1]:8000/v1", True),
        ("unix:///tmp/x.sock", True),
        ("http://192.0.2.7:8000/v1", False),
        ("https://whisper.example.com/v1", False),
    ],
)
def test_loopback(uri, loopback):
    assert parse_remote(uri).loopback is loopback


def test_base_url_keeps_the_port_and_path_but_not_the_query():
    t = parse_remote("https://u:p@api.example.com:8443/openai/v1/?k=v")
    assert t.base_url == "https://api.example.com:8443/openai/v1"
    assert (t.query, t.username, t.password) == ("k=v", "u", "p")
