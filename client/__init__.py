"""stt: the thin command-line client."""
