#!/usr/bin/env bash
# Shared launcher of dist_train.sh and dist_test.sh: tools/torchrun.sh NPROC SCRIPT [args...]
# runs tools/SCRIPT in NPROC processes on this node with torchrun. Multi-node: set NNODES,
# NODE_RANK, MASTER_ADDR and PORT (the same PORT and MASTER_ADDR on every node).
# The interpreter is $PYTHON, else the checkout's .venv (what `make` sets up), else python on PATH.
# torchrun runs through segtools.utils.torchrun: an error all ranks hit is printed once, and a
# failed rank ends in one summary line ("train.py: rank 1 exited with status 2") with its exit
# status instead of torchrun's ChildFailedError report; --debug or SEGTOOLS_DEBUG=1 keeps it.
set -euo pipefail
NPROC=$1
SCRIPT=$2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python; fi
fi

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
exec "$PYTHON" -m segtools.utils.torchrun \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$NPROC" \
    --master_port="${PORT:-29500}" \
    "$ROOT/tools/$SCRIPT" "${@:3}"
