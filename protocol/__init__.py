"""The stt wire protocol. Pure, no I/O.

`wire` and `address` use the standard library only, so the client's
hotkey path can import them; `messages`, `commands` and `framing` are the pydantic
models and the server's line rules. Import the module you need: this package imports nothing.
"""
