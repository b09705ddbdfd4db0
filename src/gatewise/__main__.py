"""``python -m gatewise``: the same as the ``gatewise`` command."""

import sys

from gatewise.cli import main

sys.exit(main())
