#!/usr/bin/env bash
# The benchmark on Docker Engine 20.10 (Debian 12's docker.io, API 1.41),
# beside the machine's engine: bench/engine-beside.sh --engine 20.10.
#
#   bench/engine-20.10.sh [bench/run.sh options]     e.g. --repeat 3
#   bench/engine-20.10.sh --tear-down                 remove what a killed run left
set -Eeuo pipefail

exec "$(dirname -- "${BASH_SOURCE[0]}")/engine-beside.sh" --engine 20.10 "$@"
