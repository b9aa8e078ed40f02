"""Benchmarks of the TransBot dev stack: what a developer waits for, and what
the stack costs at rest, each measured against raw Compose in the same run.

Run it through ./bench/run.sh, which prepares tests/.venv and runs
`python -m transbench` with bench/ and tests/ on PYTHONPATH (the suite's
helpers, the package `support`, drive the stacks). It drives the real scripts in a throw-away copy of the
repository (the test suite's Stack helper) on the test images, prints a
markdown table and writes it to a file. Method and bounds: bench/README.md.

Modules, by responsibility:
  common    paths, targets, errors, logging and the number formats
  timeline  the engine's view of one start (events, inspect, logs)
  idle      CPU and memory at rest (cgroups, /proc)
  stacks    the stacks it drives: start, stop, wipe, the baselines
  phases    the measurements, in the order a run takes them
  machine   the machine, the engine's load and the images
  report    rows, tables and the notes under them
  cli       options, the run itself, the .json it leaves
  downtime  probes every 100 ms and the outage figures of their timeline
  upgrade   ./bench/upgrade.sh: upgrade-postgres.sh against the same upgrade
            by hand, and the update's downtime per service (its own entry)
"""
