"""`sttd`: parse options, claim the socket before anything heavy, then serve.

Exit codes (also in README):
  0  clean shutdown
  1  unexpected failure
  2  bad option, configuration or environment
  3  another sttd already serves this socket or uses this state directory (its PID is printed)
  4  the model failed to load
  5  the state directory cannot be used (not a directory, not writable)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..protocol.wire import EXIT_CONFIG, EXIT_FAILURE, EXIT_MODEL, EXIT_OK, EXIT_RUNNING, EXIT_STATE


def build_parser() -> argparse.ArgumentParser:
    """The sttd command line."""
    from . import __version__

    p = argparse.ArgumentParser(
        prog="sttd",
        description="Local dictation daemon: listens on request, transcribes with Whisper, types into the focused window.",
        epilog=(
            "examples:\n"
            "  sttd                          embedded tiny.en model on the CPU\n"
            "  sttd --model small.en         a larger model (downloaded where a network exists)\n"
            "  sttd --injector stdout        print phrases instead of typing them\n"
            "  STT_SOCKET=stt-test sttd      a second, independent profile\n"
            "  sttd --remote tcp://whisper.lan:10300           a Wyoming server (wyoming-faster-whisper)\n"
            "  STT_API_KEY=... sttd --remote https://api.openai.com/v1   an OpenAI-compatible endpoint\n\n"
            "exit codes: 0 clean, 1 failure, 2 bad option/config, 3 already running, 4 model failed to load,\n"
            "            5 state directory unusable"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"sttd {__version__}")
    p.add_argument("--model", help="faster-whisper model name or CTranslate2 directory (default: embedded tiny.en)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where the model runs (default auto)")
    p.add_argument("--compute-type", dest="compute_type", help="CTranslate2 compute type (default int8 on CPU, float16 on CUDA)")
    p.add_argument("--language", help="language code, or 'auto' to detect (default en)")
    p.add_argument("--injector", choices=["auto", "xdotool", "wtype", "mutter", "dotool", "ydotool", "clipboard", "stdout", "none"], help="how text is typed (default auto)")
    p.add_argument("--input-device", dest="input_device", help="input device name or index (see --list-devices)")
    p.add_argument("--pause", type=float, help="seconds of silence that end a phrase (default 0.5)")
    p.add_argument("--max-phrase", dest="max_phrase", type=float, help="longest phrase in seconds (default 12)")
    p.add_argument("--initial-prompt", dest="initial_prompt", help="names and jargon the model should expect")
    p.add_argument("--beam-size", dest="beam_size", type=int, help="decoding beam width (default 1, greedy)")
    p.add_argument("--type-delay", dest="type_delay_ms", type=int, help="milliseconds between keystrokes (default: per backend)")
    p.add_argument("--notifications", dest="notifications", action=argparse.BooleanOptionalAction, default=None, help="desktop notifications via notify-send")
    p.add_argument("--focus-guard", dest="focus_guard", action=argparse.BooleanOptionalAction, default=None, help="hold text when focus moved away (default on)")
    p.add_argument("--remote", help="transcribe on a server: tcp://HOST:PORT or unix:///PATH (Wyoming), http(s)://HOST[:PORT]/v1 (OpenAI-compatible)")
    p.add_argument("--remote-model", dest="remote_model", help="model name sent to the remote server")
    p.add_argument("--api-key-file", dest="api_key_file", type=Path, help="file holding the remote API key (else $STT_API_KEY; never on the command line)")
    p.add_argument("--remote-timeout", dest="remote_timeout", type=float, help="seconds one phrase may take remotely (default 10)")
    p.add_argument("--log-level", dest="log_level", choices=["debug", "info", "warning", "error"], help="stderr log level (default info)")
    p.add_argument("--config", type=Path, help="configuration file (default $XDG_CONFIG_HOME/stt/config.toml)")
    p.add_argument("--print-config", action="store_true", help="print the effective configuration with the source of each value, and exit")
    p.add_argument("--install-service", action="store_true", help="write a systemd user unit for sttd and print how to enable it")
    p.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    return p


FLAG_KEYS = (
    "model", "device", "compute_type", "language", "injector", "input_device", "pause", "max_phrase",
    "initial_prompt", "beam_size", "type_delay_ms", "notifications", "focus_guard", "log_level",
    "remote", "remote_model", "api_key_file", "remote_timeout",
)


def load_settings(args: argparse.Namespace, socket_address: str = ""):
    """Flags, STT_* variables, the config file and defaults, merged and validated."""
    from .config import load

    return load({k: getattr(args, k) for k in FLAG_KEYS}, config_path=args.config, fixed={"socket": socket_address})


def main(argv: list[str] | None = None) -> int:
    """Entry point of `sttd`."""
    args = build_parser().parse_args(argv)
    if args.list_devices:
        from .audio import list_devices

        print(list_devices())
        return EXIT_OK
    if args.print_config or args.install_service:
        from ..protocol.wire import socket_address

        from .config import ConfigError, render

        try:
            address = socket_address()  # the profile decides the state directory
        except ValueError as exc:
            print(f"sttd: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        try:
            loaded = load_settings(args, address)
        except ConfigError as exc:
            for line in exc.lines:
                print(f"sttd: {line}", file=sys.stderr)
            return EXIT_CONFIG
        if args.print_config:
            print(render(loaded))
            return EXIT_OK
        from .service import install

        print(install(args.config))
        return EXIT_OK

    from ..protocol.wire import display_address, socket_address

    from .ipc import AlreadyRunning, claim

    try:
        address = socket_address()
    except ValueError as exc:
        print(f"sttd: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        sock = claim(address)
    except AlreadyRunning as held:
        where = display_address(address)
        if held.uid is not None and held.uid != os.getuid():
            print(f"sttd: socket {where} is held by pid {held.pid} of another user (uid {held.uid}); refusing to start", file=sys.stderr)
        elif held.pid is not None:
            print(f"sttd: already running as pid {held.pid} on {where}; stop it with: stt shutdown (or kill {held.pid})", file=sys.stderr)
        else:
            print(f"sttd: another process holds {where}", file=sys.stderr)
        return EXIT_RUNNING

    # The socket is ours: only now pay for the heavy imports.
    import logging

    from .config import ConfigError

    try:
        settings = load_settings(args, address).settings
    except ConfigError as exc:
        for line in exc.lines:
            print(f"sttd: {line}", file=sys.stderr)
        return EXIT_CONFIG
    from .state import StateDirBusy, StateDirError, claim as claim_state_dir

    try:
        state_warning = claim_state_dir(settings.state_dir)  # held until the process exits
    except (StateDirBusy, StateDirError) as exc:
        print(f"sttd: {exc}", file=sys.stderr)
        return EXIT_RUNNING if isinstance(exc, StateDirBusy) else EXIT_STATE
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        # A descriptor of our own for stderr: sounddevice points fd 2 at /dev/null while
        # PortAudio initialises (in the audio thread), and our lines must not vanish with ALSA's.
        stream=open(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=True),
    )
    if settings.log_level != "debug":
        # faster-whisper logs every call at INFO; one line per phrase is noise in the journal.
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    import uvloop

    from .serve import serve
    from .injector import choose
    from .resilient import ResilientTranscriber
    from .transcriber import LocalWhisper
    from .transcript import ModelLoadError

    injector = choose(settings.injector, settings.type_delay_ms, paste_chord=settings.paste_chord, terminal_classes=settings.terminal_classes)
    if settings.remote:
        from .remote_factory import make_remote

        transcriber = make_remote(settings)  # the URI was validated with the settings
    else:
        transcriber = LocalWhisper(settings)
    if any(os.environ.get(name) for name in ("STT_TEST_TRANSCRIBE_DELAYS", "STT_TEST_INJECT_DELAY")):
        from .testing import with_test_hooks  # only the end-to-end tests set these

        resilient, injector = with_test_hooks(transcriber, injector, settings, os.environ)
    else:
        resilient = ResilientTranscriber(transcriber, settings)  # retry, backoff, fallback
    log = logging.getLogger(__name__)
    if state_warning:
        log.warning("%s", state_warning)
    try:
        uvloop.run(serve(settings, sock, resilient, injector))
        code = EXIT_OK
    except StateDirError as exc:  # the journal could not be opened
        print(f"sttd: {exc}", file=sys.stderr)
        code = EXIT_STATE
    except ModelLoadError as exc:
        log.error("%s", exc)
        code = getattr(exc, "exit_code", EXIT_MODEL)  # a bad API key is configuration (2)
    except Exception as exc:
        log.error("start-up failed", exc_info=exc)
        code = EXIT_FAILURE
    sys.stdout.flush()
    sys.stderr.flush()
    # Worker threads (a model still loading, a wedged audio device) must not hold
    # the process past its shutdown: the state worth keeping is already fsync'd.
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
