#!/usr/bin/env bash
# The longer recovery runs of "Prune, then distil" (lr 3e-4, 8 x 128-token batches, held-out scores every 20 steps, every 10 for the half-size study).
# Resumable: finished runs are skipped, a run cut short continues from its last checkpoint (runs/prune_checkpoints).
#   bash scripts/prune_long.sh long    # 16 of 30 blocks (63 % of the parameters), distilled, up to 400 steps
#   bash scripts/prune_long.sh half    # 10 of 30 blocks (47 %): distilled 60 steps, then the hard-label twin and a
#                                      # from-scratch student until they match its perplexity (seeds 0, 1, 2), at most
#                                      # HARD_STEPS (240) and SCRATCH_STEPS (120) steps
set -euo pipefail   # OUT=folder writes the results elsewhere (default nbs/prune)
cd "$(dirname "$0")/.."
study="python scripts/prune_study.py --out ${OUT:-nbs/prune} --parts recovery --lr 3e-4 --eval-every 20 --checkpoint-every 20"
case "${1:-}" in
  # stops at 1.5 x the teacher's held-out perplexity (64.64, nbs/prune/teacher.json)
  long) $study --recovery-students 16:importance --modes kd --steps 400 --stop-ppl 96.96 --seeds ${SEEDS:-0} ;;
  half)
    for seed in ${SEEDS:-0 1 2}; do
      $study --eval-every 10 --recovery-students 10:importance --modes kd --steps 60 --seeds "$seed"
      $study --eval-every 10 --recovery-students 10:importance --modes hard --steps "${HARD_STEPS:-240}" --match-step 60 --seeds "$seed"
      $study --eval-every 10 --recovery-students 10:scratch --modes kd --steps "${SCRATCH_STEPS:-120}" --match-step 60 --seeds "$seed"
    done ;;
  *) echo "usage: bash scripts/prune_long.sh long|half" >&2; exit 2 ;;
esac
