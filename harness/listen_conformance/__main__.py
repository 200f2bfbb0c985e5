"""`python3 -m listen_conformance COMMAND ...`: see cli.py."""
import sys

from .cli import main

sys.exit(main())
