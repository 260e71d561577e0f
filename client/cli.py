"""`stt`: the thin client's entry point. The hotkey commands (`hotkey`) import nothing but the standard library's basics.

Exit codes:
  0  done
  1  sttd is not running
  2  usage error
  3  the server answered with an error
  4  the socket belongs to another user (refused)
"""

from __future__ import annotations

import sys

from ..protocol.wire import EXIT_OK, EXIT_USAGE, __version__
from .hotkey import SIMPLE, simple, status_plain

USAGE = """usage: stt COMMAND [options]

commands:
  toggle                 start recording, or stop if recording (bind this to a key)
  start | stop           start or stop recording (push-to-talk: start on press, stop on release)
  cancel                 stop recording and discard what was not typed yet
  status [--json] [--format waybar] [--watch]
                         server state; --watch prints a line per change (status bars)
  tail [--json] [-n N]   live events (transcripts, latency, errors); -n shows N past entries first
  history [-n N] [--json]
                         recent transcripts from the journal
  transcribe FILE...     transcribe audio files with the server's warm model
  paste                  type the text held back because focus moved
  shutdown               stop the server
  completion bash|zsh    print a shell completion script
  doctor [--json]        what this desktop offers for typing and listening, each problem with its fix
  tray                   a panel icon and menu (StatusNotifierItem) that follows sttd

examples:
  stt toggle             # in your window manager: bindsym $mod+d exec stt toggle
  stt tail               # watch what you say become text
  stt history -n 5 --json | jq -r '.[].text'

exit codes: 0 ok, 1 sttd not running, 2 usage, 3 error from the server, 4 socket owned by another user
"""


def main(argv: list[str] | None = None) -> int:
    """Entry point of `stt`."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return EXIT_OK if args else EXIT_USAGE
    cmd, rest = args[0], args[1:]
    if cmd in SIMPLE and not rest:
        return simple(cmd)
    if cmd == "status" and not rest:
        return status_plain()
    if cmd == "--version":
        print(f"stt {__version__}")
        return EXIT_OK
    if cmd in SIMPLE:
        print(f"stt {cmd}: takes no arguments", file=sys.stderr)
        return EXIT_USAGE
    if cmd == "tray":  # D-Bus is loaded by the tray alone
        from .tray import main as tray

        return tray(rest)
    # The other commands import argparse and json: only they pay for it, never the hotkey path.
    from . import commands

    if cmd not in commands.HANDLERS:
        print(f"stt: unknown command {cmd!r}\n\n{USAGE}", file=sys.stderr, end="")
        return EXIT_USAGE
    return commands.run(cmd, rest)


if __name__ == "__main__":
    sys.exit(main())
