"""Section 3r, remote backends: the live pass again with `sttd --remote` on each real speech server."""

from __future__ import annotations

from pathlib import Path

from .. import servers
from ..common import Row, SectionResult, log, ms, pc, summary
from ..rig import Rig
from .live import live_clips

from tests.support.speech import wer


def run(rig: Rig, clips, pause: float, workdir: Path, mic: dict, local: dict | None = None) -> SectionResult:
    """The speech-to-text and accuracy figures again with `sttd --remote` on each real server (servers' files in
    `workdir`), the microphone's latency `mic` subtracted; beside the local live pass `local` when given."""
    from stt_dictation.server.transcriber import embedded_model_path

    res = SectionResult("remote")
    m = mic["median_s"]
    refs = [c.reference for c in clips]
    local_e2e = summary([c["e2e_raw"] - m for c in local["clips"] if c["e2e_raw"] is not None]) if local else None
    local_wer = wer(refs, [c["text"] for c in local["clips"]]) if local else None
    res.data = {"local_e2e_minus_mic_s": local_e2e, "local_wer": local_wer, "backends": {}}
    starters = {"wyoming": servers.start_wyoming, "openai": servers.start_openai}
    try:
        for name, start_server in starters.items():
            srv = start_server(workdir, embedded_model_path())
            rig.helpers.append(srv.process)
            try:
                ready = srv.wait_ready()
                log(f"{srv.name} answered after {ready:.1f} s; restarting sttd with --remote {srv.uri}")
                rig.restart_sttd("--remote", srv.uri)
                backend = rig.status().get("backend")
                log(f"remote {name}: playing {len(clips)} clip(s)")
                live = live_clips(rig, clips, pause)
            finally:
                srv.stop()
            raw = [c["e2e_raw"] for c in live["clips"]]
            e2e = summary([v - m for v in raw if v is not None])
            w = wer(refs, [c["text"] for c in live["clips"]])
            to_transcribed = summary([c.get("server_end_to_transcribed") for c in live["clips"]])
            res.data["backends"][name] = {
                "server": srv.name,
                "uri": srv.uri,
                "status_backend": backend,
                "ready_s": ready,
                "e2e_minus_mic_s": e2e,
                "wer": w,
                "server_end_to_transcribed_s": to_transcribed,
                "clips_without_text": sum(1 for v in raw if v is None),
                "per_clip": live["clips"],
            }
            ref = f"local backend (row 3) {ms(local_e2e['p50'])} / {ms(local_e2e['p95'])}" if local_e2e else "local backend: run with the speech section"
            wref = f"local live {pc(local_wer)}; difference {(w - local_wer) * 100:+.1f} points" if local_wer is not None else ""
            res.rows += [
                Row(
                    "3r Remote",
                    f"`--remote` {srv.name} on loopback (same tiny.en, int8): end of speech -> last character, p50 / p95 of {len(clips)} clips (virtual-mic latency subtracted)",
                    f"**{ms(e2e['p50'])}** / {ms(e2e['p95'])}",
                    ref + f"; speech end -> transcribed p50 {ms(to_transcribed['p50'])}",
                ),
                Row(
                    "3r Remote",
                    f"`--remote` {srv.name}: WER of the text typed into the xterm",
                    f"**{pc(w)}**",
                    wref,
                    "within 1 point of local" if local_wer is not None else "",
                    (abs(w - local_wer) <= 0.01) if local_wer is not None else None,
                ),
            ]
    finally:
        log("remote: back to the local backend")
        rig.restart_sttd()
    return res
