"""``python -m dnabert``: the ``dnabert`` command (:mod:`dnabert.cli`)."""

import sys

from dnabert.cli import main

sys.exit(main())
