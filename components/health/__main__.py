"""`python -m components.health`: see components/health/cli.py."""

import sys

from components.health.cli import main

sys.exit(main())
