"""tray_menu: the dbusmenu tree, replaced only when it changed; clicks reach the handler; layout by depth."""

from __future__ import annotations

from stt_dictation.client.tray_menu import Item, Menu


def _call(obj, name: str, *args):
    """A D-Bus method as the bus calls it (dbus-fast's wrapper drops the return value)."""
    return getattr(type(obj), name).__wrapped__(obj, *args)


def _menu():
    clicks: list[int] = []
    menu = Menu(clicks.append)
    updates: list[tuple] = []
    menu.LayoutUpdated = lambda revision, parent: updates.append((revision, parent))  # record instead of emitting
    return menu, clicks, updates


ITEMS = (
    Item(1, "Start recording"),
    Item(2, separator=True),
    Item(3, "Recent transcripts", children=(Item(4, "hello there"),)),
    Item(5, "Hidden", visible=False),
)


def test_set_announces_a_new_revision_only_when_something_changed():
    menu, _, updates = _menu()
    menu.set(ITEMS)
    menu.set(ITEMS)
    menu.set(ITEMS[:1])
    assert updates == [(2, 0), (3, 0)]


def test_labels_are_the_visible_entries_with_submenus_flattened():
    menu, _, _ = _menu()
    menu.set(ITEMS)
    assert menu.labels() == {1: "Start recording", 3: "Recent transcripts", 4: "hello there"}


def test_a_click_reaches_the_handler_and_unknown_ids_do_not():
    menu, clicks, _ = _menu()
    menu.set(ITEMS)
    _call(menu, "Event", 1, "clicked", None, 0)
    _call(menu, "Event", 1, "hovered", None, 0)
    _call(menu, "Event", 99, "clicked", None, 0)
    assert clicks == [1]
    assert _call(menu, "EventGroup", [(4, "clicked", None, 0), (77, "clicked", None, 0)]) == [77]
    assert clicks == [1, 4]


def test_props_per_kind_of_item():
    assert Item(2, separator=True).props()["type"].value == "separator"
    sub = Item(3, "More", children=(Item(4, "x"),)).props()
    assert sub["children-display"].value == "submenu" and sub["label"].value == "More"
    assert "children-display" not in Item(1, "Plain", enabled=False).props()
    assert Item(1, "Plain", enabled=False).props()["enabled"].value is False


def test_layout_goes_as_deep_as_asked():
    menu, _, _ = _menu()
    menu.set(ITEMS)
    revision, (root_id, _props, kids) = _call(menu, "GetLayout", 0, 1, [])
    assert (revision, root_id, len(kids)) == (2, 0, 4)
    _, (_, _, nested) = _call(menu, "GetLayout", 3, 1, ["label"])  # one level below the submenu
    (child,) = nested
    assert child.value[0] == 4 and set(child.value[1]) == {"label"}
    _, (_, _, none) = _call(menu, "GetLayout", 0, 0, [])
    assert none == []
