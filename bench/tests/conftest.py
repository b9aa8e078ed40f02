"""The benchmark's own unit tests: no engine, no stack.

Run them with ./tests/run.sh bench/tests (tests/.venv has pytest)."""

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))
