"""Section 7, typing: how fast the xdotool injector types into the xterm, and whether every character arrives."""

from __future__ import annotations

import asyncio
import time

from ..common import Row, SectionResult, log, median, ms, sec, summary
from ..rig import Rig
from tests.support.speech import edit_distance
from .launch import interpreter_start


ACCENTED = (
    "Déjà vu at the café — naïve façade, crème brûlée and a piñata; "
    "señor Müller’s résumé, São Paulo, Zürich — voilà, coöperate."
)


def ascii_text(clips, n: int = 500) -> str:
    words = " ".join(c.reference for c in clips).split()
    out = ""
    for w in words:
        nxt = (out + " " + w) if out else w
        if len(nxt) > n:
            break
        out = nxt
    out = "".join(ch if 32 <= ord(ch) < 127 else " " for ch in out)
    return (out + " " + "x" * n)[:n] if len(out) < n else out


class _Program:
    """The xdotool program as the backend ran it before typing went in-process: one call per text, 1 ms between keys
    once the keymap has every character (12 ms otherwise)."""

    def __init__(self, inj) -> None:
        self._inj = inj

    async def type(self, text: str) -> None:
        from stt_dictation.server.inject_base import run_tool

        delay = await self._inj.delay_for(text)
        await run_tool(["xdotool", "type", "--clearmodifiers", "--delay", str(delay), "--", text], timeout=60.0)


def _type_once(rig: Rig, inj, text: str, timeout: float) -> dict:
    assert rig.window is not None
    rig.window.clear()
    rig.window.focus()
    time.sleep(0.1)
    cap = rig.window.path
    want = len(text.encode())
    t0 = time.time()
    asyncio.run(inj.type(text))
    t_call = time.time() - t0
    size, t_growth = cap.stat().st_size, time.time()
    deadline = time.monotonic() + timeout
    while True:
        cur = cap.stat().st_size
        now = time.time()
        if cur != size:
            size, t_growth = cur, now
        if (size >= want and now - t_growth > 0.3) or now - t_growth > 2.0:
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.005)
    got = rig.window.read()
    wall = t_growth - t0
    diff = edit_distance(text, got)  # characters lost, added or changed
    return {"chars": len(text), "call_s": t_call, "to_last_char_s": wall, "cps": len(text) / wall, "exact": got == text, "mismatches": diff, "got": got[:3000]}


def _type_reps(rig: Rig, inj, text: str, reps: int) -> dict:
    runs = [_type_once(rig, inj, text, 30) for _ in range(reps)]
    return {
        "chars": len(text),
        "reps": reps,
        "cps_median": median([r["cps"] for r in runs]),
        "to_last_char_s_median": median([r["to_last_char_s"] for r in runs]),
        "exact_runs": sum(1 for r in runs if r["exact"]),
        "char_errors": sum(r["mismatches"] for r in runs),
        "runs": runs,
    }


def run(rig: Rig, clips, reps: int) -> SectionResult:
    """The injector's typing rate, `reps` runs each of ASCII text from `clips` and of accented text, against the xdotool program."""
    from stt_dictation.server.injector import XdotoolInjector

    res = SectionResult("typing")
    rig.ensure_idle()
    text = ascii_text(clips)
    fast = XdotoolInjector()
    default = _Program(fast)
    log(f"typing: 500 ASCII characters x{reps} through the xdotool program, then the injector (XTEST in-process)")
    a_ref = _type_reps(rig, default, text, reps)
    a = _type_reps(rig, fast, text, reps)
    log(f"typing: accented text with em dashes x{reps} (the program first: the injector may extend the keymap for good)")
    b_ref = _type_reps(rig, default, ACCENTED, reps)
    b = _type_reps(rig, fast, ACCENTED, reps)
    focus = []
    for _ in range(10):
        t0 = time.perf_counter()
        asyncio.run(fast.focused_window())
        focus.append(time.perf_counter() - t0)
    res.data = {
        "ascii": a,
        "ascii_program": a_ref,
        "accented": b,
        "accented_program": b_ref,
        "accented_text": ACCENTED,
        "injector_delays_ms": {k: getattr(XdotoolInjector, k, None) for k in ("FAST_DELAY_MS", "SAFE_DELAY_MS")},
        "focused_window_s": summary(focus),
    }

    def arrived(r):
        if r["exact_runs"] == r["reps"]:
            return f"all arrived in {r['reps']} of {r['reps']} runs"
        return f"**{r['char_errors']} char(s) lost or wrong** over {r['reps']} runs ({r['reps'] - r['exact_runs']} runs not exact)"

    res.rows += [
        Row(
            "7 Typing",
            f"XdotoolInjector.type, {a['chars']} ASCII chars -> last char in the xterm, median of {reps}",
            f"**{a['cps_median']:.0f} chars/s** ({sec(a['to_last_char_s_median'])}; {arrived(a)})",
            f"the xdotool program, as the backend called it before (1 ms between keys): {a_ref['cps_median']:.0f} chars/s ({arrived(a_ref)})",
            "every character arrives",
            a["exact_runs"] == a["reps"],
        ),
        Row(
            "7 Typing",
            f"same, {b['chars']} chars with accents and em dashes",
            f"**{b['cps_median']:.0f} chars/s** ({sec(b['to_last_char_s_median'])}; {arrived(b)})",
            f"the xdotool program, as before (1 ms once the characters are bound): {b_ref['cps_median']:.0f} chars/s ({arrived(b_ref)})",
            "every character arrives",
            b["exact_runs"] == b["reps"],
        ),
        Row(
            "7 Typing",
            "XdotoolInjector.focused_window() (the focus guard's check before each typed chunk), median of 10",
            ms(median(focus), 1),
            f"one `python -c pass` for scale: {ms(median(interpreter_start(rig.env, 5)), 1)}",
        ),
    ]
    return res
