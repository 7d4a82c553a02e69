"""Copy the small result tables of `scripts/regime_study.sh` next to the lesson (nbs/regimes/), with where they came from.

    python scripts/collect_regimes.py runs/regimes

Writes nbs/regimes/{curves,test,phases}.csv and provenance.json. Nothing is computed here beyond joining
tables: every number is one the runs printed and wrote.
"""
import json, os, platform, sys, time
from pathlib import Path
import pandas as pd
import torch

KEEP = ["regime", "run", "alpha", "soft_loss", "temperature", "step", "tokens", "student_ppl", "teacher_ppl", "kl", "top1",
        "train_loss", "train_hard", "seconds", "eval_seconds", "shared", "checkpoint"]

def sweep_rows(folder, regime):
    "A sweep's evaluations, tagged with the regime."
    return pd.read_csv(folder/"sweep.csv", keep_default_na=False).assign(regime=regime)

def train_rows(folder, regime, run):
    "A `distill-edu train` run's evaluations in the sweep's columns (train_hard: the mean over the last 10% of steps)."
    ev, h = pd.read_csv(folder/"evals.csv"), pd.read_csv(folder/"history.csv")
    rows = []
    for _, e in ev.iterrows():
        past = h[h.step <= e.step]
        k = max(1, len(past) // 10)
        rows.append({**e.to_dict(), "regime": regime, "run": run, "alpha": 1.0, "soft_loss": "kld", "temperature": 1.0,
                     "train_loss": past.loss.tail(k).mean(), "train_hard": past.hard.tail(k).mean(), "shared": "",
                     "checkpoint": str(folder/"checkpoint.pt")})
    return pd.DataFrame(rows)

def main(study):
    study, out = Path(study), Path(__file__).resolve().parents[1]/"nbs"/"regimes"
    out.mkdir(exist_ok=True)
    curves = pd.concat([sweep_rows(study/"one-pass", "one pass"), sweep_rows(study/"data-limited", "data-limited"),
                        sweep_rows(study/"exact", "data-limited, exact targets"),
                        sweep_rows(study/"exact-T2", "data-limited, exact targets"),
                        train_rows(study/"hard-600", "one pass, 600 steps", "alpha=1 T=1 (600 steps)")], ignore_index=True)
    curves = curves[[c for c in KEEP if c in curves]]
    rel = lambda p: os.path.relpath(p, study) if p else ""
    curves["checkpoint"] = curves.checkpoint.map(rel)
    curves.to_csv(out/"curves.csv", index=False)
    test = pd.read_csv(study/"test"/"eval.csv")
    test["checkpoint"] = test.checkpoint.map(rel)
    test.to_csv(out/"test.csv", index=False)
    phases = []
    for name in ("hard-600", "one-pass", "data-limited", "exact", "exact-T2"):
        p = study/name/"phases.csv"
        if p.exists(): phases.append(pd.read_csv(p).rename(columns={"Unnamed: 0": "phase"}).assign(run=name))
    pd.concat(phases).to_csv(out/"phases.csv", index=False)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    # no machine path: the study's folder is named as the scripts' argument
    prov = {"produced by": "bash scripts/regime_study.sh OUT; python scripts/collect_regimes.py OUT",
            "teacher": "smollm2-135m: SmolLM2-135M-Instruct, the bundled Q4_1 GGUF dequantized, in bfloat16 ('--teacher-dtype auto' on a CPU with native bf16)",
            "data": "IMDB, ../shared/data/imdb: 5,000 reviews (seed 0) split by review into 4,500 training and 500 held-out reviews",
            "windows": "128 tokens, stride 128 (distinct windows); batch 16",
            "student": "GPT-2 256/4/4 with the teacher's vocabulary (49,152), same initial weights (seed 0); AdamW lr 3e-4, no warm-up",
            "validation": "the first 64 held-out windows (8,128 next-token predictions): the curves, and where alpha and T are chosen",
            "test": "the next 128 held-out windows (16,256 predictions), scored once per checkpoint by distill-edu evaluate --eval-skip 64",
            "device": f"CPU: {cpu}, {os.cpu_count()} cores; torch {torch.__version__}",
            "collected": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    (out/"provenance.json").write_text(json.dumps(prov, indent=1) + "\n")
    print(f"wrote {out}: {len(curves)} evaluations, {len(test)} test rows")

if __name__ == "__main__": main(sys.argv[1] if len(sys.argv) > 1 else "runs/regimes")
