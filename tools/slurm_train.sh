#!/usr/bin/env bash
# Training under Slurm: tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py args...]
# Environment (GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS, PYTHON): see tools/srun.sh.
set -euo pipefail
if [ "$#" -lt 3 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG [train.py args...]" >&2
    exit 2
fi
exec bash "$(dirname "$0")/srun.sh" "$1" "$2" train.py "$3" --launcher=slurm "${@:4}"
