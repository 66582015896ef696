"""`python -m detcore` is the `detcore` command."""

import sys

from detcore.cli import main

sys.exit(main())
