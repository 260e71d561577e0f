"""tray_item: `show` swaps the look and emits only the signals for what changed; Activate calls back."""

from __future__ import annotations

from stt_dictation.client.tray_item import Item, Look

IDLE = Look("Active", "audio-input-microphone", "stt", "idle")


def _item():
    activated: list[int] = []
    item = Item(IDLE, lambda: activated.append(1))
    sent: list[str] = []
    for name in ("NewStatus", "NewIcon", "NewAttentionIcon", "NewToolTip", "NewTitle"):
        setattr(item, name, lambda *a, name=name: sent.append(name))  # record instead of emitting
    return item, sent, activated


def test_the_same_look_emits_nothing():
    item, sent, _ = _item()
    item.show(Look("Active", "audio-input-microphone", "stt", "idle"))  # equal, not the same object
    assert sent == []


def test_each_change_emits_its_own_signals_only():
    item, sent, _ = _item()
    item.show(Look("Active", "media-record", "stt", "idle"))
    assert sent == ["NewIcon", "NewAttentionIcon"]
    sent.clear()
    item.show(Look("NeedsAttention", "media-record", "stt", "recording 3 s"))
    assert sent == ["NewStatus", "NewToolTip"]
    assert item.look.tooltip == "recording 3 s"


def test_activate_calls_back():
    item, _, activated = _item()
    type(item).Activate.__wrapped__(item, 0, 0)  # as the bus calls it
    assert activated == [1]
