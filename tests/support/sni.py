"""A private D-Bus session bus and a StatusNotifierWatcher stand-in: what a panel does to show `stt tray`.

    with SessionBus(tmp_path) as bus:                 # dbus-daemon --session on a private socket
        async with Panel(bus.address) as panel:       # the watcher; reads items like a panel
            name = await panel.wait_item()
            props = await panel.props(name)           # Status, IconName, ToolTip, ...
            await panel.click(name, label="Start recording")
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property, method, signal

from tests.support.process import Process
from tests.support.wait import wait_until

WATCHER = "org.kde.StatusNotifierWatcher"


class SessionBus:
    """`dbus-daemon --session` on a socket under `root`, stopped at exit."""

    def __init__(self, root: Path) -> None:
        self.socket = Path(root) / "bus"
        self.address = f"unix:path={self.socket}"
        self.process = Process(["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address={self.address}"], Path(root) / "dbus.log")

    def __enter__(self) -> SessionBus:
        self.process.start()
        wait_until(lambda: self.socket.exists(), 10.0, what="dbus-daemon's socket")
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stop()


class _Watcher(ServiceInterface):
    def __init__(self) -> None:
        super().__init__(WATCHER)
        self.items: list[tuple[str, str]] = []  # (what the item passed, its sender)
        self.registered = asyncio.Event()

    @method()
    def RegisterStatusNotifierItem(self, service: "s"):  # noqa: N802, F821
        self.items.append((service, ""))
        self.registered.set()
        self.StatusNotifierItemRegistered(service)

    @method()
    def RegisterStatusNotifierHost(self, service: "s"):  # noqa: N802, F821
        pass

    @signal()
    def StatusNotifierItemRegistered(self, service: "s") -> "s":  # noqa: N802, F821
        return service

    @dbus_property(access=PropertyAccess.READ)
    def RegisteredStatusNotifierItems(self) -> "as":  # noqa: N802, F821
        return [s for s, _ in self.items]

    @dbus_property(access=PropertyAccess.READ)
    def IsStatusNotifierHostRegistered(self) -> "b":  # noqa: N802, F821
        return True

    @dbus_property(access=PropertyAccess.READ)
    def ProtocolVersion(self) -> "i":  # noqa: N802, F821
        return 0


class Panel:
    """The watcher and host side: owns org.kde.StatusNotifierWatcher and reads the items registered with it."""

    def __init__(self, address: str, own_watcher: bool = True) -> None:
        self.address = address
        self.own_watcher = own_watcher
        self.watcher = _Watcher()
        self.bus: MessageBus | None = None

    async def __aenter__(self) -> Panel:
        self.bus = await MessageBus(bus_address=self.address, bus_type=BusType.SESSION).connect()
        if self.own_watcher:
            self.bus.export("/StatusNotifierWatcher", self.watcher)
            await self.bus.request_name(WATCHER)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.bus is not None
        self.bus.disconnect()

    async def wait_item(self, timeout: float = 20.0, count: int = 1) -> str:
        """The bus name of the `count`-th item registered."""
        deadline = time.monotonic() + timeout
        while len(self.watcher.items) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"no item registered within {timeout} s (have {self.watcher.items})")
            await asyncio.sleep(0.05)
        return self.watcher.items[count - 1][0]

    async def _call(self, dest: str, path: str, iface: str, member: str, sig: str = "", body: list | None = None) -> list:
        assert self.bus is not None
        reply = await asyncio.wait_for(
            self.bus.call(Message(destination=dest, path=path, interface=iface, member=member, signature=sig, body=body or [])), 10.0
        )
        if reply.message_type != MessageType.METHOD_RETURN:
            raise AssertionError(f"{member} on {dest}: {reply.error_name} {reply.body}")
        return reply.body

    async def props(self, name: str) -> dict:
        """Every property of the item, unwrapped."""
        (props,) = await self._call(name, "/StatusNotifierItem", "org.freedesktop.DBus.Properties", "GetAll", "s", ["org.kde.StatusNotifierItem"])
        return {k: v.value for k, v in props.items()}

    async def wait_props(self, name: str, pred, timeout: float = 15.0, what: str = "item properties") -> dict:
        deadline = time.monotonic() + timeout
        while True:
            p = await self.props(name)
            if pred(p):
                return p
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not reached within {timeout} s; last: {p}")
            await asyncio.sleep(0.1)

    async def menu(self, name: str) -> dict[str, tuple[int, dict]]:
        """Label -> (id, properties) of every menu item, submenus included."""
        menu_path = (await self.props(name))["Menu"]
        _rev, layout = await self._call(name, menu_path, "com.canonical.dbusmenu", "GetLayout", "iias", [0, -1, []])
        out: dict[str, tuple[int, dict]] = {}

        def walk(node: list) -> None:
            item_id, props, kids = node
            p = {k: v.value for k, v in props.items()}
            if "label" in p:
                out[p["label"]] = (item_id, p)
            for kid in kids:
                walk(kid.value)

        walk(layout)
        return out

    async def click(self, name: str, label: str) -> None:
        """What a panel sends when the user clicks the menu item labelled `label`."""
        menu_path = (await self.props(name))["Menu"]
        item_id, _ = (await self.menu(name))[label]
        await self._call(name, menu_path, "com.canonical.dbusmenu", "Event", "isvu", [item_id, "clicked", Variant("s", ""), 0])
