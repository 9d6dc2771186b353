"""``python -m dnabert.interpret.variants``: see :mod:`dnabert.interpret.variants.cli`."""

import sys

from dnabert.interpret.variants.cli import main

sys.exit(main())
