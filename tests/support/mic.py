"""A real virtual microphone for end-to-end tests: an isolated PulseAudio whose default source hears what is played."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

from tests.support.devices import COMMAND_TIMEOUT, HarnessError, HarnessTimeout, VirtualDevice, child_env, spawn, tail, wait_until
from tests.support.process import Process

SINK_NAME = "stt_sink"
SOURCE_NAME = "stt_mic"
KEEPALIVE_SINK_NAME = "stt_keepalive"

MIC_BINARIES = ("pulseaudio", "pactl", "paplay")

# The ALSA library reads this top-level file unless ALSA_CONFIG_PATH replaces it.
_ALSA_TOP_CONFIG = Path("/usr/share/alsa/alsa.conf")
# sockaddr_un.sun_path is 108 bytes including the terminating NUL.
_MAX_SOCKET_PATH = 107


def _wav_duration(path: Path) -> float | None:
    """Return the duration of a PCM WAV file in seconds, or None if the wave module cannot parse it."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / wav.getframerate()
    except (wave.Error, EOFError):
        return None


class VirtualMicrophone(VirtualDevice):
    """An isolated PulseAudio daemon whose default source hears whatever is played into its sink."""

    # Variables that would steer PulseAudio clients away from the virtual devices.
    unset_env = ("PULSE_SOURCE", "PULSE_SINK")

    LOG_NAME = "pulseaudio.log"

    def __init__(self, *, start_timeout: float = 5.0) -> None:
        super().__init__(start_timeout)
        self._players: list[Process] = []
        self._modules: list[str] = []

    @property
    def present(self) -> bool:
        """Whether the virtual source is currently plugged in."""
        return bool(self._modules)

    def processes(self) -> list[Process]:
        """The daemon while it runs (players come and go), for whoever accounts for CPU."""
        return [self._main] if self._main is not None and self._main.alive() else []

    def _start(self) -> None:
        tmp = self._tmp = Path(tempfile.mkdtemp(prefix="stt-mic-"))
        socket = tmp / "native"
        if len(str(socket)) > _MAX_SOCKET_PATH:
            raise HarnessError(f"socket path {socket} is too long for AF_UNIX; set TMPDIR to a shorter directory")
        cookie = tmp / "cookie"
        self.env = {"PULSE_SERVER": f"unix:{socket}", "PULSE_COOKIE": str(cookie)}
        if _ALSA_TOP_CONFIG.exists():
            # Debian's /etc/alsa/conf.d/99-pulse.conf already routes ALSA's
            # "default" to PulseAudio when PULSE_SERVER answers, but other
            # hooks (pipewire-alsa, a user's ~/.asoundrc) can win; force it.
            asound = tmp / "asound.conf"
            asound.write_text(
                f"<{_ALSA_TOP_CONFIG}>\n"
                'pcm.!default { type pulse hint { show on description "stt virtual microphone" } }\n'
                "ctl.!default { type pulse }\n"
            )
            self.env["ALSA_CONFIG_PATH"] = str(asound)

        # Point every per-user path at the temp dir so the daemon neither sees
        # nor disturbs a desktop PulseAudio/PipeWire, and refuse the session
        # bus so it cannot register itself there.
        daemon_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(tmp),
            "XDG_RUNTIME_DIR": str(tmp),
            "XDG_CONFIG_HOME": str(tmp / "config"),
            "XDG_STATE_HOME": str(tmp / "state"),
            "XDG_CACHE_HOME": str(tmp / "cache"),
            "PULSE_RUNTIME_PATH": str(tmp / "runtime"),
            "PULSE_STATE_PATH": str(tmp / "state"),
            "PULSE_COOKIE": str(cookie),
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp / 'no-session-bus'}",
        }
        cmd = [
            "pulseaudio",
            "-n",  # no default.pa: only the modules loaded here exist
            "--daemonize=no",
            "--use-pid-file=false",
            "--exit-idle-time=-1",
            "--disallow-exit",
            "--realtime=false",
            "--high-priority=false",
            # The CPU limiter SIGKILLs the daemon when a loaded CI box starves it.
            "--no-cpu-limit",
            "--log-target=stderr",
            "-L",
            f'module-native-protocol-unix socket="{socket}" auth-anonymous=1',
        ]
        # Running as root only earns a warning in per-user mode; no flag needed.
        self._main = spawn(cmd, tmp / self.LOG_NAME, daemon_env)

        def answering() -> bool:
            if self._main is not None and not self._main.alive():
                raise HarnessError(f"pulseaudio exited with {self._main.returncode}:\n{tail(self.log_path)}")
            if not socket.is_socket():
                return False
            # The socket file appears at bind(), a moment before listen(): until
            # then connections are refused, so ask the daemon itself.
            try:
                self._pactl("info")
            except HarnessError:
                return False
            return True

        wait_until(answering, self._start_timeout, "the PulseAudio daemon to answer")
        self._load_devices()

    def _pactl(self, *args: str) -> str:
        """Run pactl against this daemon and return its stdout."""
        try:
            done = subprocess.run(
                ["pactl", *args],
                check=False,
                env=child_env(self),
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            raise HarnessTimeout(f"pactl {' '.join(args)} timed out") from exc
        if done.returncode != 0:
            raise HarnessError(f"pactl {' '.join(args)} failed: {done.stderr.strip()}\n{tail(self.log_path)}")
        return done.stdout

    def _load_devices(self) -> None:
        """Create the sink, the microphone on its monitor, and the keep-alive loopback."""
        for module in (
            [
                "module-null-sink",
                f"sink_name={SINK_NAME}",
                "rate=48000",
                "channels=2",
                "sink_properties=device.description=stt_virtual_speaker",
            ],
            # A plain source on top of the monitor: desktop apps that hide
            # monitor sources from their microphone lists still offer it.
            [
                "module-remap-source",
                f"master={SINK_NAME}.monitor",
                f"source_name={SOURCE_NAME}",
                "source_properties=device.description=stt_virtual_microphone",
            ],
            # A null sink with no low-latency client renders 2 s blocks, so a new
            # recording stream would wait up to 2 s for its first buffer (a real
            # microphone starts in ~20 ms). A permanent low-latency reader on the
            # monitor keeps the blocks small; its output goes to a second sink.
            ["module-null-sink", f"sink_name={KEEPALIVE_SINK_NAME}", "sink_properties=device.description=stt_keepalive"],
            [
                "module-loopback",
                f"source={SINK_NAME}.monitor",
                f"sink={KEEPALIVE_SINK_NAME}",
                "latency_msec=10",
                "source_dont_move=true",
                "sink_dont_move=true",
            ],
        ):
            self._modules.append(self._pactl("load-module", *module).strip())
        self._pactl("set-default-sink", SINK_NAME)
        self._pactl("set-default-source", SOURCE_NAME)
        # The sink's timer is still armed for the 2 s block it rendered at
        # creation; a suspend/resume cycle restarts it with the small block size.
        self._pactl("suspend-sink", SINK_NAME, "1")
        self._pactl("suspend-sink", SINK_NAME, "0")

    def _unload_devices(self) -> None:
        """Unload the device modules in reverse order, ignoring ones already gone."""
        while self._modules:
            index = self._modules.pop()
            try:
                self._pactl("unload-module", index)
            except HarnessError:
                if self._main is not None and self._main.alive():
                    raise

    def unload_source(self) -> None:
        """Unplug the microphone: afterwards PulseAudio has no source at all and recording streams die."""
        # Unloading only the remap source is not enough: PulseAudio would
        # silently move recording streams to the sink's monitor, so the sink
        # goes too and no source is left to rescue streams onto.
        if not self.present:
            raise HarnessError("the virtual microphone is already unplugged")
        self._stop_players()
        self._unload_devices()
        leftover = self._pactl("list", "short", "sources").strip()
        if leftover:
            raise HarnessError(f"sources still present after unload: {leftover}")

    def reload_source(self) -> None:
        """Plug the microphone back in after unload_source()."""
        if self.present:
            raise HarnessError("the virtual microphone is already plugged in")
        self._load_devices()

    def play(self, wav_path: str | os.PathLike[str], *, wait: bool = True) -> Process | None:
        """Play a WAV file into the microphone; block until done unless wait is False, then return the player."""
        if not self.present:
            raise HarnessError("cannot play: the virtual microphone is unplugged")
        path = Path(wav_path)
        if not path.is_file():
            raise FileNotFoundError(path)
        assert self._tmp is not None
        player = spawn(["paplay", f"--device={SINK_NAME}", str(path)], self._tmp / "paplay.log", child_env(self))
        self._players = [p for p in self._players if p.alive()] + [player]
        if not wait:
            return player
        duration = _wav_duration(path)
        timeout = 60.0 if duration is None else duration + COMMAND_TIMEOUT
        try:
            returncode = player.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            player.stop()
            raise HarnessTimeout(f"paplay {path} did not finish within {timeout:.0f}s") from exc
        if returncode != 0:
            raise HarnessError(f"paplay {path} exited with {returncode}:\n{player.log_tail()}")
        return None

    def play_silence(self, seconds: float, *, wait: bool = True) -> Process | None:
        """Play digital silence for the given duration (useful to keep a sequence of clips in order)."""
        assert self._tmp is not None
        path = self._tmp / f"silence-{seconds:.3f}s.wav"
        if not path.exists():
            rate = 16000
            with wave.open(str(path), "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(rate)
                wav.writeframes(b"\0\0" * round(seconds * rate))
        return self.play(path, wait=wait)

    def _stop_players(self) -> None:
        for player in self._players:
            player.stop()
        self._players = []

    def stop(self) -> None:
        """Kill players and the daemon and delete the temp dir; safe to call twice."""
        try:
            self._stop_players()
            if self._main is not None:
                self._main.stop()
        finally:
            self._main = None
            self._modules = []
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None



__all__ = ["KEEPALIVE_SINK_NAME", "MIC_BINARIES", "SINK_NAME", "SOURCE_NAME", "VirtualMicrophone"]
