"""The benchmark's own unit tests: no engine, no stack.

The suite runs them (pytest.ini's testpaths); alone: ./tests/run.sh bench/tests."""
