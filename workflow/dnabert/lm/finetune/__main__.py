"""``python -m dnabert.lm.finetune``: see :mod:`dnabert.lm.finetune.cli`."""

import sys

from dnabert.lm.finetune.cli import main

if __name__ == "__main__":
    sys.exit(main())
