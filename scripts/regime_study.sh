#!/bin/bash
# "When does distillation pay?" (nbs/31_when_distillation_pays.ipynb): every run of the study, one command each.
# Usage: bash scripts/regime_study.sh [OUT]   (default runs/regimes; about 2 hours on a 2-core CPU, minutes on a GPU)
# then:  python benchmarks/bench_regime.py        (the step costs of part (c), on an otherwise idle machine)
#        python scripts/collect_regimes.py OUT   (copies the small result tables next to the notebook)
set -euo pipefail
R=${1:-runs/regimes}
# the same teacher, reviews, split, student, batch and seed for every run; held-out validation = the first 64
# held-out windows (what the runs evaluate on and what alpha and T are chosen on)
COMMON="--teacher smollm2-135m --reviews 5000 --stride 128 --context-size 128 --batch-size 16 --eval-windows 64 --teacher-dtype auto --seed 0 --lr 3e-4 --no-progress"
# hard labels only, 600 steps over 9,600 distinct windows: the equal-wall-clock baseline (its first 200 steps are one pass)
distill-edu train $COMMON --alpha 1 --max-steps 600 --max-windows 9600 --epochs 1 --eval-every 50 --teacher-cache none --no-hard-baseline --out $R/hard-600
# (a) one pass: 3,200 distinct windows, 200 steps, alpha x T grid on one sparse cache
distill-edu sweep $COMMON --max-windows 3200 --epochs 1 --max-steps 200 --eval-every 50 --teacher-cache sparse \
  --alphas 0,0.5,1 --soft-losses kld --temperatures 1,2 --out $R/one-pass
# (b) data-limited: 320 windows, 10 epochs, 200 steps
distill-edu sweep $COMMON --max-windows 320 --epochs 10 --max-steps 200 --eval-every 25 --teacher-cache sparse \
  --alphas 0,1 --soft-losses kld --temperatures 1,2 --out $R/data-limited
# KLD and MSE on the same exact fp16 teacher logits (data-limited windows)
distill-edu sweep $COMMON --max-windows 320 --epochs 10 --max-steps 200 --eval-every 25 --teacher-cache exact \
  --alphas 0 --soft-losses kld,mse --temperatures 1 --out $R/exact
# and KLD at T = 2 on exact logits (where the sparse cache's sampled tail is noisiest)
distill-edu sweep $COMMON --max-windows 320 --epochs 10 --max-steps 200 --eval-every 25 --teacher-cache exact \
  --alphas 0 --soft-losses kld --temperatures 2 --out $R/exact-T2
# the test set: 128 held-out windows (16,256 predictions) after the 64 the runs evaluated on, every checkpoint on the same windows
distill-edu evaluate $R/hard-600/checkpoint.pt $R/one-pass/*/checkpoint.pt $R/data-limited/*/checkpoint.pt $R/exact/*/checkpoint.pt $R/exact-T2/*/checkpoint.pt \
  --teacher smollm2-135m --reviews 5000 --stride 128 --context-size 128 --teacher-dtype auto --seed 0 --no-progress --eval-skip 64 --eval-windows 128 --out $R/test
