"""`python -m transbench`: what ./bench/run.sh runs."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
