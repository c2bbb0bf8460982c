#!/usr/bin/env bash
# Distributed training with torchrun: tools/dist_train.sh CONFIG GPUS [train.py args...]
# GPUS is the number of processes on this node (one per GPU; on a CPU-only machine they use
# gloo, see segtools/utils/launch.py). Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT
# (the same PORT and MASTER_ADDR on every node); the interpreter: see tools/torchrun.sh.
set -euo pipefail
if [ "$#" -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [train.py args...]" >&2
    exit 2
fi
exec bash "$(dirname "$0")/torchrun.sh" "$2" train.py "$1" --launcher pytorch "${@:3}"
