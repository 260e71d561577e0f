"""Running sttd: the daemon with its control socket, signals, hotkey and sleep watch, until shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from . import __version__
from .daemon import Daemon
from .events import EventBus
from .hotkey_listen import start_hotkey, stop_hotkey
from .injector import Injector
from .ipc import ControlServer
from .resilient import ResilientTranscriber
from .settings import Settings
from .sleep import SleepWatch

log = logging.getLogger(__name__)


async def serve(settings: Settings, sock, transcriber: ResilientTranscriber, injector: Injector) -> None:
    """Run the daemon on a claimed socket until a signal or `shutdown`; a start-up failure
    (ModelLoadError, say) is raised after an orderly shutdown, for the entry point to map to an exit code."""
    bus = EventBus()
    daemon = Daemon(settings, transcriber, injector, bus)
    control = ControlServer(sock, daemon, bus, allow_sandboxed=settings.allow_sandboxed_clients)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.stopping.set)
    await daemon.open_journal()
    await control.start()
    hotkey = await start_hotkey(settings, daemon.handle)  # None when off (the default)
    log.info("sttd %s listening (pid %d)", __version__, os.getpid())
    sleep = SleepWatch(daemon.before_sleep)  # logind's PrepareForSleep, where there is one
    watching = asyncio.create_task(sleep.start(), name="sleep-watch")
    loader = asyncio.create_task(daemon.load(), name="load")
    stopper = asyncio.create_task(daemon.stopping.wait(), name="stopping")
    done, _ = await asyncio.wait({loader, stopper}, return_when=asyncio.FIRST_COMPLETED)
    failure = loader.exception() if loader in done else None
    if loader in done and failure is None:
        await stopper
    elif loader not in done:
        loader.cancel("server shutting down")
    log.info("shutting down")
    if hotkey is not None:
        await stop_hotkey(hotkey)
    watching.cancel()
    await sleep.close()
    await control.close(grace=0.5)
    await daemon.shutdown(grace=0.8)
    if failure is not None:
        raise failure
