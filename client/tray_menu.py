"""The tray's menu as a com.canonical.dbusmenu object: what panels ask to draw the StatusNotifierItem's menu."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dbus_fast import Variant
from dbus_fast.service import ServiceInterface, dbus_property, method, signal
from dbus_fast.constants import PropertyAccess

log = logging.getLogger(__name__)

MENU_PATH = "/MenuBar"


@dataclass(frozen=True)
class Item:
    """One menu entry; `children` make it a submenu, `separator` a line."""

    id: int
    label: str = ""
    enabled: bool = True
    visible: bool = True
    separator: bool = False
    children: Sequence[Item] = field(default_factory=tuple)

    def props(self) -> dict[str, Variant]:
        if self.separator:
            return {"type": Variant("s", "separator"), "visible": Variant("b", self.visible)}
        p = {"label": Variant("s", self.label), "enabled": Variant("b", self.enabled), "visible": Variant("b", self.visible)}
        if self.children:
            p["children-display"] = Variant("s", "submenu")
        return p


def _filter(props: dict[str, Variant], names: Sequence[str]) -> dict[str, Variant]:
    return {k: v for k, v in props.items() if not names or k in names}


class Menu(ServiceInterface):
    """A dbusmenu whose whole tree is replaced by `set` (a handful of items: no diffing needed)."""

    def __init__(self, on_click: Callable[[int], None]) -> None:
        super().__init__("com.canonical.dbusmenu")
        self._on_click = on_click
        self._revision = 1
        self._items: dict[int, Item] = {0: Item(0)}

    def set(self, items: Sequence[Item]) -> None:
        """Replace the tree and tell the panel, only when something changed."""
        root = Item(0, children=tuple(items))
        flat: dict[int, Item] = {}

        def walk(it: Item) -> None:
            flat[it.id] = it
            for child in it.children:
                walk(child)

        walk(root)
        if flat == self._items:
            return
        self._items = flat
        self._revision += 1
        self.LayoutUpdated(self._revision, 0)

    def labels(self) -> dict[int, str]:
        """Id -> label of every visible item (for tests and logs)."""
        return {i: it.label for i, it in self._items.items() if it.visible and not it.separator and i}

    def _layout(self, item: Item, depth: int, names: Sequence[str]) -> list:
        kids = [] if depth == 0 else [Variant("(ia{sv}av)", self._layout(c, depth - 1, names)) for c in item.children]
        return [item.id, _filter(item.props(), names), kids]

    @method()
    def GetLayout(self, parentId: "i", recursionDepth: "i", propertyNames: "as") -> "u(ia{sv}av)":  # noqa: N802, F821
        item = self._items.get(parentId, self._items[0])
        return [self._revision, self._layout(item, recursionDepth, propertyNames)]

    @method()
    def GetGroupProperties(self, ids: "ai", propertyNames: "as") -> "a(ia{sv})":  # noqa: N802, F821
        wanted = ids or list(self._items)
        return [[i, _filter(self._items[i].props(), propertyNames)] for i in wanted if i in self._items]

    @method()
    def GetProperty(self, id: "i", name: "s") -> "v":  # noqa: N802, A002, F821
        return self._items[id].props().get(name, Variant("s", ""))

    @method()
    def Event(self, id: "i", eventId: "s", data: "v", timestamp: "u"):  # noqa: N802, A002, F821
        if eventId == "clicked" and id in self._items:
            self._on_click(id)

    @method()
    def EventGroup(self, events: "a(isvu)") -> "ai":  # noqa: N802, F821
        errors = []
        for id_, event_id, _data, _ts in events:
            if id_ not in self._items:
                errors.append(id_)
            elif event_id == "clicked":
                self._on_click(id_)
        return errors

    @method()
    def AboutToShow(self, id: "i") -> "b":  # noqa: N802, A002, F821
        return False

    @method()
    def AboutToShowGroup(self, ids: "ai") -> "aiai":  # noqa: N802, F821
        return [[], []]

    @signal()
    def LayoutUpdated(self, revision: "u", parent: "i") -> "ui":  # noqa: N802, F821
        return [revision, parent]

    @signal()
    def ItemsPropertiesUpdated(self) -> "a(ia{sv})a(ias)":  # noqa: N802, F821
        return [[], []]

    @dbus_property(access=PropertyAccess.READ)
    def Version(self) -> "u":  # noqa: N802, F821
        return 3

    @dbus_property(access=PropertyAccess.READ)
    def TextDirection(self) -> "s":  # noqa: N802, F821
        return "ltr"

    @dbus_property(access=PropertyAccess.READ)
    def Status(self) -> "s":  # noqa: N802, F821
        return "normal"

    @dbus_property(access=PropertyAccess.READ)
    def IconThemePath(self) -> "as":  # noqa: N802, F821
        return []
