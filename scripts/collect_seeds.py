"""Copies the seed study's small result tables (scripts/seeds_study.sh) next to the lessons, each row with its seed.

    python scripts/collect_seeds.py [RUNS]        (default runs/seeds)

demo     -> nbs/demo/: comparison.csv, evals.csv, history.csv, samples.csv (one block per seed), summary.csv
            (mean, standard deviation, min and max over the seeds) and curves_seedN.png (the plot the command draws)
onpolicy -> nbs/on_policy/results.csv (one row per seed and set-up) and seedN.json (curves, samples, timings)
A part whose runs are not all finished is collected as far as it goes; rerun it when more land.
"""
import json, platform, shutil, sys, time
from pathlib import Path
import pandas as pd

NBS = Path(__file__).resolve().parent.parent / "nbs"


def seed_dirs(folder: Path) -> dict:
    "{seed: folder} of the seedN folders under `folder`."
    return {int(d.name[4:]): d for d in sorted(folder.glob("seed*")) if d.is_dir()}


def with_seed(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    "`frame` with a first column `seed`."
    return frame.assign(seed=seed)[["seed", *frame.columns]]


def spread(frame: pd.DataFrame, by: list, columns: list) -> pd.DataFrame:
    "Mean, standard deviation (n − 1), min, max and the number of seeds of `columns`, grouped by `by`."
    stats = frame.groupby(by, sort=False)[columns].agg(["mean", "std", "min", "max", "count"])
    stats.columns = [f"{c} {s}" for c, s in stats.columns]
    return stats.reset_index()


def collect_demo(runs: Path, out: Path):
    "The demo's comparison table, evaluation curves, training losses and samples of every finished seed."
    seeds = {s: d for s, d in seed_dirs(runs / "demo").items() if (d / "comparison.csv").exists()}
    if not seeds: return print("demo: no finished seed")
    out.mkdir(parents=True, exist_ok=True)
    tables = {"comparison": [], "evals": [], "history": [], "samples": []}
    for seed, d in seeds.items():
        tables["comparison"].append(with_seed(pd.read_csv(d / "comparison.csv"), seed))
        tables["samples"].append(with_seed(pd.read_csv(d / "samples.csv"), seed))
        for run, folder in (("distilled", d), ("hard-label", d / "hard-label")):
            for name in ("evals", "history"):
                tables[name].append(with_seed(pd.read_csv(folder / f"{name}.csv"), seed).assign(run=run))
        shutil.copy(d / "curves.png", out / f"curves_seed{seed}.png")
    for name, frames in tables.items():
        pd.concat(frames).to_csv(out / f"{name}.csv", index=False)
    comparison = pd.concat(tables["comparison"])
    spread(comparison, ["metric"], ["hard-label", "distilled", "difference %"]).to_csv(out / "summary.csv", index=False)
    print(f"demo: seeds {sorted(seeds)} -> {out}")


def collect_onpolicy(runs: Path, out: Path):
    "The on-policy table of every seed run so far, and each seed's curves, samples and timings."
    files = sorted((runs / "onpolicy").glob("seed*.csv"))
    if not files: return print("on-policy: no seed yet")
    out.mkdir(parents=True, exist_ok=True)
    pd.concat([pd.read_csv(f) for f in files]).to_csv(out / "results.csv", index=False)
    for f in files:
        if f.with_suffix(".json").exists(): shutil.copy(f.with_suffix(".json"), out / f.with_suffix(".json").name)
    print(f"on-policy: {[f.stem for f in files]} -> {out}")


def main():
    runs = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/seeds")
    collect_demo(runs, NBS / "demo")
    collect_onpolicy(runs, NBS / "on_policy")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    provenance = {"produced by": "bash scripts/seeds_study.sh demo|onpolicy|regime; python scripts/collect_seeds.py",
                  "teacher": "SmolLM2-135M-Instruct (the bundled Q4_1 GGUF, dequantized), bfloat16 where the CPU has native bf16",
                  "device": f"CPU ({cpu}), one thread per run, niced, sharing the machine with other work",
                  "seeds": "0, 1, 2: each sets the split, the student's initial weights and the batch order",
                  "collected": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    for folder in (NBS / "demo", NBS / "on_policy"):
        if folder.exists(): (folder / "provenance.json").write_text(json.dumps(provenance, indent=1) + "\n")


if __name__ == "__main__":
    main()
