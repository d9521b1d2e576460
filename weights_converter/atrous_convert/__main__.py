"""`python -m atrous_convert ...` is the same as the `atrous-convert` command."""
import sys

from .cli import main

sys.exit(main())
