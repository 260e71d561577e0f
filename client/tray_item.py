"""The tray icon as an org.kde.StatusNotifierItem: the properties panels read and the signals that make them re-read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property, method, signal

from .tray_menu import MENU_PATH

ITEM_PATH = "/StatusNotifierItem"


@dataclass(frozen=True)
class Look:
    """What the panel shows for one server state."""

    status: str  # SNI Status: Active, Passive or NeedsAttention
    icon: str  # a freedesktop icon name every theme has
    title: str
    tooltip: str


class Item(ServiceInterface):
    """One icon; `show` changes it and emits only the signals for what changed."""

    def __init__(self, look: Look, on_activate: Callable[[], None]) -> None:
        super().__init__("org.kde.StatusNotifierItem")
        self.look = look
        self._on_activate = on_activate

    def show(self, look: Look) -> None:
        old, self.look = self.look, look
        if look.status != old.status:
            self.NewStatus(look.status)
        if look.icon != old.icon:
            self.NewIcon()
            self.NewAttentionIcon()
        if look.tooltip != old.tooltip:
            self.NewToolTip()
        if look.title != old.title:
            self.NewTitle()

    @dbus_property(access=PropertyAccess.READ)
    def Category(self) -> "s":  # noqa: N802, F821
        return "ApplicationStatus"

    @dbus_property(access=PropertyAccess.READ)
    def Id(self) -> "s":  # noqa: N802, F821
        return "stt"

    @dbus_property(access=PropertyAccess.READ)
    def Title(self) -> "s":  # noqa: N802, F821
        return self.look.title

    @dbus_property(access=PropertyAccess.READ)
    def Status(self) -> "s":  # noqa: N802, F821
        return self.look.status

    @dbus_property(access=PropertyAccess.READ)
    def WindowId(self) -> "i":  # noqa: N802, F821
        return 0

    @dbus_property(access=PropertyAccess.READ)
    def IconName(self) -> "s":  # noqa: N802, F821
        return self.look.icon

    @dbus_property(access=PropertyAccess.READ)
    def IconPixmap(self) -> "a(iiay)":  # noqa: N802, F821
        return []

    @dbus_property(access=PropertyAccess.READ)
    def AttentionIconName(self) -> "s":  # noqa: N802, F821
        return self.look.icon

    @dbus_property(access=PropertyAccess.READ)
    def OverlayIconName(self) -> "s":  # noqa: N802, F821
        return ""

    @dbus_property(access=PropertyAccess.READ)
    def IconThemePath(self) -> "s":  # noqa: N802, F821
        return ""

    @dbus_property(access=PropertyAccess.READ)
    def ToolTip(self) -> "(sa(iiay)ss)":  # noqa: N802, F821
        return [self.look.icon, [], self.look.title, self.look.tooltip]

    @dbus_property(access=PropertyAccess.READ)
    def ItemIsMenu(self) -> "b":  # noqa: N802, F821
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Menu(self) -> "o":  # noqa: N802, F821
        return MENU_PATH

    @method()
    def Activate(self, x: "i", y: "i"):  # noqa: N802, F821
        self._on_activate()

    @method()
    def SecondaryActivate(self, x: "i", y: "i"):  # noqa: N802, F821
        pass

    @method()
    def ContextMenu(self, x: "i", y: "i"):  # noqa: N802, F821
        pass

    @method()
    def Scroll(self, delta: "i", orientation: "s"):  # noqa: N802, F821
        pass

    @signal()
    def NewTitle(self):  # noqa: N802
        pass

    @signal()
    def NewIcon(self):  # noqa: N802
        pass

    @signal()
    def NewAttentionIcon(self):  # noqa: N802
        pass

    @signal()
    def NewToolTip(self):  # noqa: N802
        pass

    @signal()
    def NewStatus(self, status: "s") -> "s":  # noqa: N802, F821
        return status
