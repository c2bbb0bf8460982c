#!/usr/bin/env bash
# Shared by tools/slurm_train.sh and tools/slurm_test.sh:
#   tools/srun.sh PARTITION JOB_NAME SCRIPT [script args, including --launcher=slurm]
# srun starts one task per GPU running tools/SCRIPT (--launcher=slurm reads SLURM_PROCID etc.).
# Environment: GPUS (total tasks, default 4), GPUS_PER_NODE (default min(GPUS, 4): mmseg's
# fixed 4 would ask for more tasks per node than the job has when GPUS < 4), CPUS_PER_TASK
# (default 5), SRUN_ARGS (extra srun options, split on spaces). The interpreter is $PYTHON,
# else the checkout's .venv, else python on PATH (as in tools/torchrun.sh).
set -euo pipefail
PARTITION=$1
JOB_NAME=$2
SCRIPT=$3
GPUS=${GPUS:-4}
GPUS_PER_NODE=${GPUS_PER_NODE:-$((GPUS < 4 ? GPUS : 4))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
read -r -a SRUN_EXTRA <<< "${SRUN_ARGS:-}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python; fi
fi

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
exec srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    "${SRUN_EXTRA[@]}" \
    "$PYTHON" -u "$ROOT/tools/$SCRIPT" "${@:4}"
