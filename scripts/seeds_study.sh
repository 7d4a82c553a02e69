#!/bin/bash
# Three seeds behind every headline: the README's demo, the on-policy table and the regime study's one-pass
# grid at T = 1 and its data-limited pair, each rerun with seeds 0, 1, 2 (the seed sets the split, the student's
# initial weights and the batch order). Resumable: a run whose result file exists is skipped, so a stopped job
# continues where it stopped. One thread per run; run parts side by side:
#
#   OMP_NUM_THREADS=1 nice bash scripts/seeds_study.sh demo      > runs/seeds-demo.log 2>&1 &
#   bash scripts/seeds_study.sh demo-pruned                       (two threads: pause other work, its wall time is the result)
#   OMP_NUM_THREADS=1 nice bash scripts/seeds_study.sh onpolicy  > runs/seeds-onpolicy.log 2>&1 &
#   OMP_NUM_THREADS=1 nice bash scripts/seeds_study.sh regime    > runs/seeds-regime.log 2>&1 &
#   python scripts/collect_seeds.py runs/seeds                    (the result tables next to the lessons, with a seed column)
#
# The regime study's seed 0 is scripts/regime_study.sh (same settings); this script adds seeds 1 and 2 and scores
# them on their own test windows. Results go to ${R:-runs/seeds}/PART/seedN.
set -euo pipefail
PART=${1:?usage: seeds_study.sh demo|demo-pruned|onpolicy|regime}
R=${R:-runs/seeds}
SEEDS=${SEEDS:-"0 1 2"}

# saved SEED [REGIME RUN]: true when nbs/ already holds that result (a demo seed, or a regime run with its test score)
saved() {
  python - "$@" <<'PY'
import sys, pandas as pd
seed = int(sys.argv[1])
if len(sys.argv) == 2:
    table = pd.read_csv("nbs/demo/comparison.csv")
    sys.exit(0 if (table.seed == seed).any() else 1)
table = pd.read_csv("nbs/regimes/seeds.csv")
row = table[(table.seed == seed) & (table.regime == sys.argv[2]) & (table.run == sys.argv[3])]
sys.exit(0 if len(row) and row.test_ppl.notna().all() else 1)
PY
}

# run MARKER COMMAND...: runs COMMAND unless MARKER (its last result file) exists
run() {
  local marker=$1; shift
  if [ -e "$marker" ]; then echo "=== skip (done): $marker"; return; fi
  echo "=== $(date -u +%H:%M:%S) $*"
  "$@"
}

case $PART in
demo)
  for s in $SEEDS; do
    if saved "$s"; then echo "=== skip (saved in nbs/demo): demo seed $s"; continue; fi
    run "$R/demo/seed$s/comparison.csv" \
      distill-edu train --teacher smollm2-135m --data movie-reviews --mode demo --seed "$s" --no-progress --out "$R/demo/seed$s"
  done ;;
demo-pruned)
  # the README's second command: the pruned student; two threads, nothing else running, each seed from an empty cache
  # (the teacher's conversion included), its wall time written to wall_s.txt
  for s in $SEEDS; do
    if [ -e "nbs/demo_pruned/comparison.csv" ] && python -c "import pandas as pd, sys; sys.exit(0 if (pd.read_csv('nbs/demo_pruned/comparison.csv').seed == $s).any() else 1)"; then
      echo "=== skip (saved in nbs/demo_pruned): seed $s"; continue
    fi
    [ -e "$R/demo_pruned/seed$s/comparison.csv" ] && { echo "=== skip (done): seed $s"; continue; }
    rm -rf "$R/demo_pruned/cache$s"; mkdir -p "$R/demo_pruned/seed$s"
    start=$(date +%s.%N)
    DISTILL_EDU_CACHE="$R/demo_pruned/cache$s" distill-edu train --teacher smollm2-135m --data movie-reviews --mode demo \
      --student pruned --seed "$s" --no-progress --out "$R/demo_pruned/seed$s"
    python -c "print(round($(date +%s.%N) - $start, 1))" > "$R/demo_pruned/seed$s/wall_s.txt"
    rm -rf "$R/demo_pruned/cache$s"
  done ;;
onpolicy)
  for s in $SEEDS; do
    # the script itself skips the set-ups already in its CSV; start that CSV from the rows saved in nbs/
    mkdir -p "$R/onpolicy"
    if [ ! -e "$R/onpolicy/seed$s.csv" ] && [ -e nbs/on_policy/results.csv ]; then
      python -c "import pandas as pd, sys; t = pd.read_csv('nbs/on_policy/results.csv'); t = t[t.seed == $s]; len(t) and t.to_csv('$R/onpolicy/seed$s.csv', index=False)"
      [ -e "nbs/on_policy/seed$s.json" ] && cp "nbs/on_policy/seed$s.json" "$R/onpolicy/seed$s.json"
    fi
    python scripts/onpolicy_run.py --seed "$s" --steps 32 --timing-steps 0 --tmp "$R/onpolicy/tmp" --out "$R/onpolicy/seed$s"
  done ;;
regime)
  COMMON="--teacher smollm2-135m --reviews 5000 --stride 128 --context-size 128 --batch-size 16 --eval-windows 64 --teacher-dtype auto --lr 3e-4 --no-progress"
  for s in $SEEDS; do
    if [ "$s" = 0 ]; then continue; fi   # seed 0 is scripts/regime_study.sh's
    d=$R/regime/seed$s
    # score_test FOLDER: the run's checkpoint on this seed's test windows (the 128 held-out windows after the 64
    # validation ones), right after training, so a later session needs no checkpoint of this one
    score_test() {
      run "$1/test/eval.csv" \
        distill-edu evaluate "$1"/*/checkpoint.pt \
          --teacher smollm2-135m --reviews 5000 --stride 128 --context-size 128 --teacher-dtype auto --seed "$s" \
          --no-progress --eval-skip 64 --eval-windows 128 --out "$1/test"
    }
    # (a) one pass, one sweep per alpha: they share one sparse cache (keyed by teacher, windows and settings)
    for a in 0 0.5 1; do
      if saved "$s" "one pass" "alpha=$a kld T=1"; then echo "=== skip (saved in nbs/regimes): one pass alpha $a seed $s"; continue; fi
      run "$d/one-pass/alpha$a/sweep.csv" \
        distill-edu sweep $COMMON --seed "$s" --max-windows 3200 --epochs 1 --max-steps 200 --eval-every 50 \
          --teacher-cache sparse --alphas $a --soft-losses kld --temperatures 1 --out "$d/one-pass/alpha$a"
      score_test "$d/one-pass/alpha$a"
    done
    # (b) data-limited: 320 windows, 10 epochs
    for a in 0 1; do
      if saved "$s" "data-limited" "alpha=$a kld T=1"; then echo "=== skip (saved in nbs/regimes): data-limited alpha $a seed $s"; continue; fi
      run "$d/data-limited/alpha$a/sweep.csv" \
        distill-edu sweep $COMMON --seed "$s" --max-windows 320 --epochs 10 --max-steps 200 --eval-every 25 \
          --teacher-cache sparse --alphas $a --soft-losses kld --temperatures 1 --out "$d/data-limited/alpha$a"
      score_test "$d/data-limited/alpha$a"
    done
  done ;;
*) echo "unknown part $PART: demo, onpolicy or regime" >&2; exit 2 ;;
esac
echo "=== $(date -u +%H:%M:%S) $PART done"
