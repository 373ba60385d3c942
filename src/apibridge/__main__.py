"""``python -m apibridge``: the same as the ``apibridge`` command."""

import sys

from apibridge.cli import main

sys.exit(main())
