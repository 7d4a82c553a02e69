"""Copies the seed study's small result tables (scripts/seeds_study.sh) next to the lessons, each row with its seed.

    python scripts/collect_seeds.py [RUNS]        (default runs/seeds)

demo     -> nbs/demo/: comparison.csv, evals.csv, history.csv, samples.csv, phases.csv (one block per seed), summary.csv
            (mean, standard deviation, min and max over the seeds) and curves_seedN.png (the plot the command draws)
demo-pruned -> nbs/demo_pruned/: the same for the README's pruned student (runs/seeds/demo_pruned), phases.csv with
            the wall time of the whole command
onpolicy -> nbs/on_policy/results.csv (one row per seed and set-up) and seedN.json (curves, samples, timings)
regime   -> nbs/regimes/seeds.csv: the T = 1 runs of the one-pass grid and the data-limited pair, one row per seed
            (seed 0 from the study's own tables in nbs/regimes/), their last validation evaluation and their test
            scores (empty until `distill-edu evaluate` ran for that seed), and seeds_summary.csv (mean, std, ...)
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


def collect_demo(runs: Path, out: Path, part: str = "demo"):
    "A demo's comparison table, evaluation curves, training losses, samples and phase times of every finished seed."
    seeds = {s: d for s, d in seed_dirs(runs / part).items() if (d / "comparison.csv").exists()}
    if not seeds: return print(f"{part}: no finished seed")
    out.mkdir(parents=True, exist_ok=True)
    tables = {"comparison": [], "evals": [], "history": [], "samples": [], "phases": []}
    for seed, d in seeds.items():
        tables["comparison"].append(with_seed(pd.read_csv(d / "comparison.csv"), seed))
        tables["samples"].append(with_seed(pd.read_csv(d / "samples.csv"), seed))
        phases = pd.read_csv(d / "phases.csv").rename(columns={"Unnamed: 0": "phase"})
        if (d / "wall_s.txt").exists():   # the whole command, start to exit (demo-pruned)
            phases = pd.concat([phases, pd.DataFrame([{"phase": "command, start to exit", "seconds": float((d / "wall_s.txt").read_text())}])])
        tables["phases"].append(with_seed(phases, seed))
        for run, folder in (("distilled", d), ("hard-label", d / "hard-label")):
            for name in ("evals", "history"):
                tables[name].append(with_seed(pd.read_csv(folder / f"{name}.csv"), seed).assign(run=run))
        shutil.copy(d / "curves.png", out / f"curves_seed{seed}.png")
    for name, frames in tables.items():
        pd.concat(frames).to_csv(out / f"{name}.csv", index=False)
    comparison = pd.concat(tables["comparison"])
    spread(comparison, ["metric"], ["hard-label", "distilled", "difference %"]).to_csv(out / "summary.csv", index=False)
    print(f"{part}: seeds {sorted(seeds)} -> {out}")
    return True


def collect_onpolicy(runs: Path, out: Path):
    "The on-policy table of every seed run so far, and each seed's curves, samples and timings."
    files = sorted((runs / "onpolicy").glob("seed*.csv"))
    if not files: return print("on-policy: no seed yet")
    out.mkdir(parents=True, exist_ok=True)
    table = pd.concat([pd.read_csv(f) for f in files])
    if (out / "results.csv").exists():   # keep the seeds of earlier sessions that are not under `runs` any more
        earlier = pd.read_csv(out / "results.csv")
        table = pd.concat([table, earlier[~earlier.seed.isin(table.seed)]]).sort_values("seed", kind="stable")
    table.to_csv(out / "results.csv", index=False)
    for f in files:
        if not f.with_suffix(".json").exists(): continue
        meta = json.loads(f.with_suffix(".json").read_text())
        meta["data"] = "IMDB reviews from $DISTILL_EDU_IMDB"   # no machine path in the saved results
        (out / f.with_suffix(".json").name).write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    print(f"on-policy: {[f.stem for f in files]} -> {out}")
    return True


REGIMES = {"one-pass": "one pass", "data-limited": "data-limited"}
METRICS = {"student_ppl": "ppl", "kl": "kl", "top1": "top1"}


def regime_row(seed: int, regime: str, final: pd.Series, checkpoint: str, test: pd.DataFrame) -> dict:
    "One run's row: its last validation metrics and, where scored, its test metrics (matched by checkpoint path)."
    row = {"seed": seed, "regime": regime, "run": final["run"], "alpha": final["alpha"], "temperature": final["temperature"],
           "step": int(final["step"]), **{f"val_{short}": final[name] for name, short in METRICS.items()}}
    scored = test[test.checkpoint.str.endswith(checkpoint)] if len(test) else test
    for name, short in METRICS.items():
        row[f"test_{short}"] = scored[name].iloc[0] if len(scored) else float("nan")
    return row


def collect_regime(runs: Path, out: Path):
    "The T = 1 one-pass and data-limited runs of every seed: seed 0 from nbs/regimes/, the others from `runs`."
    rows = []
    curves = pd.read_csv(out / "curves.csv", keep_default_na=False)
    test0 = pd.read_csv(out / "test.csv")
    for regime in REGIMES.values():
        runs0 = curves[(curves.regime == regime) & (curves.temperature == 1.0)]
        for run, curve in runs0.groupby("run", sort=False):
            final = curve.loc[curve.step.idxmax()]
            rows.append(regime_row(0, regime, final, final["checkpoint"], test0))
    for seed, d in seed_dirs(runs / "regime").items():
        scored = sorted(d.glob("*/alpha*/test/eval.csv")) + sorted(d.glob("test/eval.csv"))
        test = pd.concat([pd.read_csv(f) for f in scored]) if scored else pd.DataFrame()
        for folder, regime in REGIMES.items():
            for sweep_csv in sorted((d / folder).glob("alpha*/sweep.csv")):
                sweep = pd.read_csv(sweep_csv, keep_default_na=False)
                final = sweep.loc[sweep.step.idxmax()]
                checkpoint = str(Path(final["checkpoint"]).relative_to(d.resolve()) if Path(final["checkpoint"]).is_absolute()
                                 else final["checkpoint"])
                rows.append(regime_row(seed, regime, final, checkpoint, test))
    table = pd.DataFrame(rows)
    if (out / "seeds.csv").exists():   # keep the rows of earlier sessions whose runs are not under `runs` any more
        earlier = pd.read_csv(out / "seeds.csv")
        key = ["seed", "regime", "run"]
        here = table.set_index(key).index
        kept = earlier[~earlier.set_index(key).index.isin(here)]
        table = pd.concat([table, kept]).sort_values(["seed", "regime", "alpha"], kind="stable")
    table.to_csv(out / "seeds.csv", index=False)
    metrics = [c for c in table.columns if c.startswith(("val_", "test_"))]
    spread(table, ["regime", "run"], metrics).to_csv(out / "seeds_summary.csv", index=False)
    print(f"regime: {len(table)} runs, seeds {sorted(map(int, table.seed.unique()))} -> {out}")
    return True


def write_provenance(path: Path, cpu: str, device: str = "CPU, one thread per run, niced, sharing the machine with other work",
                     part: str = "demo|onpolicy|regime",
                     seeds: str = "0, 1, 2: each sets the split, the student's initial weights and the batch order"):
    "provenance.json of a collected part; the CPUs of every session that added results to it are kept."
    earlier = json.loads(path.read_text()) if path.exists() else {}
    cpus = earlier.get("cpus") or ([earlier["device"].split("CPU (", 1)[1].split("), one thread")[0]] if "device" in earlier else [])
    cpus = list(dict.fromkeys([*cpus, cpu]))
    provenance = {"produced by": f"bash scripts/seeds_study.sh {part}; python scripts/collect_seeds.py",
                  "teacher": "SmolLM2-135M-Instruct (the bundled Q4_1 GGUF, dequantized), bfloat16 where the CPU has native bf16",
                  "device": device,
                  "cpus": cpus,   # the seeds ran in several sessions, not always on the same CPU model
                  "seeds": seeds,
                  "collected": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    path.write_text(json.dumps(provenance, indent=1) + "\n")


def main():
    runs = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/seeds")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    if collect_demo(runs, NBS / "demo"): write_provenance(NBS / "demo" / "provenance.json", cpu)
    if collect_demo(runs, NBS / "demo_pruned", "demo_pruned"):
        write_provenance(NBS / "demo_pruned" / "provenance.json", cpu, "CPU, two threads, nothing else running (other jobs paused)",
                         "demo-pruned", "0, 1, 2: each sets the split (so the calibration windows, hence the blocks kept) and the batch order")
    if collect_onpolicy(runs, NBS / "on_policy"): write_provenance(NBS / "on_policy" / "provenance.json", cpu)
    if collect_regime(runs, NBS / "regimes"): write_provenance(NBS / "regimes" / "seeds_provenance.json", cpu)


if __name__ == "__main__":
    main()
