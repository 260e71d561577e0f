"""`python -m stt_dictation.server` runs sttd."""

import sys

from .cli import main

sys.exit(main())
