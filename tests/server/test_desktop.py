"""desktop: the compositor is asked through its socket, the environment is the fallback; the /dev/uinput check."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from stt_dictation.server.desktop import detect, family_of, uinput_problem, wayland_socket


@pytest.mark.parametrize("name, family", [("sway", "wlroots"), ("Hyprland", "wlroots"), ("gnome-shell", "gnome"), ("kwin_wayland", "kde"), ("weston", "other")])
def test_family_of(name, family):
    assert family_of(name) == family


def test_wayland_socket_is_absolute_or_under_the_runtime_dir():
    assert wayland_socket({"WAYLAND_DISPLAY": "/run/w"}) == Path("/run/w")
    assert wayland_socket({"WAYLAND_DISPLAY": "wayland-1", "XDG_RUNTIME_DIR": "/run/u"}) == Path("/run/u/wayland-1")
    assert wayland_socket({"WAYLAND_DISPLAY": "wayland-1"}) is None
    assert wayland_socket({}) is None


def test_the_process_behind_the_socket_names_the_compositor(tmp_path):
    path = tmp_path / "wayland-9"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(1)
    try:
        desk = detect({"WAYLAND_DISPLAY": str(path), "XDG_CURRENT_DESKTOP": "GNOME"})
    finally:
        srv.close()
    me = Path("/proc/self/comm").read_text().strip().lower()
    assert (desk.server, desk.compositor) == ("wayland", me)
    assert f"pid {os.getpid()}" in desk.how  # asked, not guessed from XDG_CURRENT_DESKTOP


@pytest.mark.parametrize(
    "env, compositor, family",
    [
        ({"SWAYSOCK": "/x"}, "sway", "wlroots"),
        ({"HYPRLAND_INSTANCE_SIGNATURE": "abc"}, "hyprland", "wlroots"),
        ({"XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}, "gnome", "gnome"),
        ({"XDG_CURRENT_DESKTOP": "KDE"}, "kde", "kde"),
        ({"DESKTOP_SESSION": "river"}, "river", "wlroots"),
        ({}, "unknown", "other"),
    ],
)
def test_an_unreachable_socket_falls_back_to_the_environment(tmp_path, env, compositor, family):
    desk = detect({"WAYLAND_DISPLAY": str(tmp_path / "gone"), **env})
    assert (desk.server, desk.compositor, desk.family) == ("wayland", compositor, family)


def test_x11_and_no_display():
    assert detect({"DISPLAY": ":0"}).family == "x11"
    assert detect({}).server == "none" and detect({}).family == "none"


def test_uinput_problem(tmp_path):
    assert "does not exist" in uinput_problem(str(tmp_path / "uinput"))
    regular = tmp_path / "file"
    regular.write_text("")
    assert "not a character device" in uinput_problem(str(regular))
    assert uinput_problem("/dev/null") is None  # a writable character device
