"""`python -m tasker ...` is the `tasker` console script."""

import sys

from tasker.cli import main

sys.exit(main())
