"""The socket address both programs compute, and the peer credentials both read."""

from __future__ import annotations

import os
import socket

import pytest

from stt_dictation.protocol.address import ENV_VAR, display_address, peer_credentials, socket_address


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
