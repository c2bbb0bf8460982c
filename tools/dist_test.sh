#!/usr/bin/env bash
# Distributed evaluation with torchrun: tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
# Environment as for dist_train.sh: NNODES, NODE_RANK, MASTER_ADDR, PORT (see tools/torchrun.sh).
set -euo pipefail
if [ "$#" -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [test.py args...]" >&2
    exit 2
fi
exec bash "$(dirname "$0")/torchrun.sh" "$3" test.py "$1" "$2" --launcher pytorch "${@:4}"
