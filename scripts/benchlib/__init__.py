"""Helpers for scripts/bench: the rig (virtual devices + a real sttd), offline analysis, sections, report."""
