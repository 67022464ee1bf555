"""``python -m vlmprune`` is the ``vlmprune`` command."""

import sys

from vlmprune.cli import main

sys.exit(main())
