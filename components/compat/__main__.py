"""`python -m components.compat`: see components/compat/cli.py."""

import sys

from components.compat.cli import main

sys.exit(main())
