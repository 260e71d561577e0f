"""`python -m server` runs sttd."""

import sys

from .cli import main

sys.exit(main())
