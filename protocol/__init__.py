"""The stt wire protocol. Pure, no I/O.

`wire` uses the standard library only, so the client's hotkey path can import it;
`commands`, `messages` and `framing` are the pydantic models and the line rules.
Import the module you need: this package imports nothing.
"""
