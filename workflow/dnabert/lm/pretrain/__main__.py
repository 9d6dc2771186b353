"""``python -m dnabert.lm.pretrain`` (and ``torchrun ... -m dnabert.lm.pretrain``): see :mod:`dnabert.lm.pretrain.cli`."""

import sys

from dnabert.lm.pretrain.cli import main

if __name__ == "__main__":
    sys.exit(main())
