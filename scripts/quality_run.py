"""The quality measurement of the walkthrough: does distillation beat hard labels on held-out reviews?

Teacher SmolLM2-135M (offline), IMDB reviews from ../shared/data/imdb split by review, student 256/4/4
(vocab 49,152), context 128, batch 16, `--epochs` passes over `--train-windows` windows (so every run takes
the same optimizer steps on the same batches in the same order), held-out evaluation every `--eval-every`
steps on `--valid-windows` windows spread over the held-out reviews.

The teacher runs once per window: training targets come from the sparse teacher cache of
`distill_edu.cache` (top-16 + 92 sampled tail tokens per position, for T = 1 and T = 2), held-out
targets from an exact (fp16) cache, both filled on first use and shared by every run and stage.

`--lockstep` trains all the asked runs in one process, one optimizer step of each in turn on the same
batch, evaluating them at the same steps and appending every evaluation to OUT/<stage>/lockstep.csv at
once: on a shared CPU this compares the runs at equal steps at any moment, even if the job is stopped.

Runs can also be done in stages that append to the same folder:

    python scripts/quality_run.py --alphas 0.5 --temperature 1
    python scripts/quality_run.py --alphas 1
    python scripts/quality_run.py --combine

Each stage writes OUT/<stage>/sweep.csv, sweep.png and meta.json; `--combine` joins every stage into
OUT/quality.csv and OUT/quality.png. Everything comes from the library: no training code lives here.
"""
import argparse, json, os, sys, time, platform
from pathlib import Path
import pandas as pd
import torch

from distill_edu.resources import imdb_path
from distill_edu.models import load_teacher, load_tokenizer, make_student, SMOLLM2
from distill_edu.data import prepare_windows
from distill_edu.targets import LiveTeacher, DistillCriterion
from distill_edu.train import make_loader, make_optimizer, train_step, sample_responses, PROMPTS
from distill_edu.evaluate import evaluate
from distill_edu.cache import teacher_cache, SparseKDCriterion
from distill_edu.sweep import sweep, plot_sweep


def windows(tok, args):
    "The training windows (exactly steps x batch) and the evenly spread held-out windows."
    train, valid = prepare_windows(tok, imdb_path(args.data), args.reviews, 128, 128, valid_frac=0.1, seed=0, progress=False)
    need = args.train_windows
    if len(train) < need: sys.exit(f"only {len(train)} training windows, need {need}: raise --reviews")
    train = torch.utils.data.Subset(train, range(need))
    step = max(1, len(valid) // args.valid_windows)
    valid = torch.utils.data.Subset(valid, list(range(0, len(valid), step))[: args.valid_windows])
    return train, valid


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--alphas", default="1")
    p.add_argument("--soft-losses", default="kld")
    p.add_argument("--runs", default=None, help="explicit alpha:loss pairs, e.g. 0.5:kld,0:mse (instead of alphas x losses)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--train-windows", type=int, default=1600)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is faster on a shared, oversubscribed CPU)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--reviews", type=int, default=2500)
    p.add_argument("--valid-windows", type=int, default=64)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--data", default=None, help="IMDB folder (default ../shared/data/imdb)")
    p.add_argument("--live", action="store_true", help="run the teacher on every batch instead of the caches")
    p.add_argument("--out", default="runs/quality")
    p.add_argument("--stage", default=None, help="sub-folder name (default from the alphas/losses/T)")
    p.add_argument("--combine", action="store_true", help="only join the stages into quality.csv / quality.png")
    p.add_argument("--lockstep", action="store_true", help="train the runs side by side, one step each in turn")
    args = p.parse_args()
    out = Path(args.out)
    if args.combine: return combine(out)
    alphas = [float(a) for a in args.alphas.split(",")]
    losses = args.soft_losses.split(",")
    pairs = [(a, soft) for a in alphas for soft in losses]
    if args.runs:
        pairs = [(float(r.split(":")[0]), r.split(":")[1]) for r in args.runs.split(",")]
        losses = sorted({soft for _, soft in pairs}); args.alphas = ",".join(sorted({f"{a:g}" for a, _ in pairs}))
        args.soft_losses = ",".join(losses)
    stage = args.stage or f"a{args.alphas.replace(',', '_')}-{args.soft_losses.replace(',', '_')}-T{args.temperature:g}"
    torch.set_num_threads(args.threads)
    t0 = time.time()
    tok = load_tokenizer(SMOLLM2)
    teacher = load_teacher(SMOLLM2, device="cpu")
    train, valid = windows(tok, args)
    print(f"{len(train)} training windows, {len(valid)} held-out windows, torch threads {torch.get_num_threads()}", flush=True)
    if args.live: src, vsrc, make_criterion = LiveTeacher(teacher), LiveTeacher(teacher), DistillCriterion
    else:
        src = teacher_cache(teacher, train, out/"teacher_cache_train", mode="sparse", k=16, samples=92, temperatures=(1.0, 2.0))
        vsrc = teacher_cache(teacher, valid, out/"teacher_cache_valid", mode="exact", dtype="float16")
        make_criterion = lambda a, soft, T: SparseKDCriterion(a, T, soft) if soft == "kld" else DistillCriterion(a, soft, T)
        print(src, vsrc, sep="\n", flush=True)
        if any(soft != "kld" for soft in losses):   # MSE needs the teacher's full logits: an exact fp16 cache, filled once
            exact = teacher_cache(teacher, train, out/"teacher_cache_train_exact", mode="exact", dtype="float16")
            print(exact, flush=True)
    source_for = lambda soft: src if args.live or soft == "kld" else exact
    steps = args.epochs * (len(train) // args.batch_size)
    if args.lockstep:
        runs = [(f"alpha={a:g} {soft} T={args.temperature:g}", make_criterion(a, soft, args.temperature), source_for(soft))
                for a, soft in pairs]
        lockstep(runs, vsrc, train, valid, tok, args, out/stage, t0)
    else: df = sweep(lambda: make_student(tok, seed=0), source_for(losses[-1]) if len(set(losses)) == 1 else exact, train, valid, vsrc, alphas=alphas,
               soft_losses=losses, temperature=args.temperature, make_criterion=make_criterion, out=out/stage,
               tokenizer=tok, eval_batch_size=8, epochs=args.epochs, batch_size=args.batch_size,
               eval_every=args.eval_every, seed=0, device="cpu", progress=True)
    meta = {"teacher": SMOLLM2, "data": str(imdb_path(args.data)), "reviews": args.reviews, "train_windows": len(train),
            "valid_windows": len(valid), "epochs": args.epochs, "steps": steps, "threads": args.threads, "batch_size": args.batch_size, "context": 128,
            "device": f"cpu ({os.cpu_count()} cores, {platform.processor() or platform.machine()})",
            "wall_seconds": round(time.time() - t0), "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    (out/stage/"meta.json").write_text(json.dumps(meta, indent=1))
    print(json.dumps(meta), flush=True)


def lockstep(runs, vsrc, train, valid, tok, args, out, t0):
    "Train every run one optimizer step at a time in turn, on the same batches; evaluate all at the same steps."
    out.mkdir(parents=True, exist_ok=True)
    state = []
    for name, crit, run_src in runs:
        st = make_student(tok, seed=0).train()
        state.append({"name": name, "crit": crit, "src": run_src, "student": st, "opt": make_optimizer(st), "hist": [], "secs": 0.0})
    n_steps, step, rows = args.epochs * (len(train) // args.batch_size), 0, []
    def evaluate_all():
        for r in state:
            m = evaluate(r["student"], valid, vsrc, batch_size=8)
            tail = r["hist"][-20:]
            rows.append({"run": r["name"], "alpha": r["crit"].alpha, "soft_loss": r["crit"].soft_loss,
                         "temperature": r["crit"].temperature, "step": step, "epoch": step / (n_steps / args.epochs), **m,
                         "train_loss": sum(h["loss"] for h in tail) / max(1, len(tail)),
                         "train_hard": sum(h["hard"] for h in tail) / max(1, len(tail)),
                         "train_seconds": round(r["secs"]), "wall_seconds": round(time.time() - t0), "shared": ""})
            print(f"step {step} {r['name']}: " + ", ".join(f"{k} {v:.4g}" for k, v in m.items()), flush=True)
        pd.DataFrame(rows).to_csv(out/"sweep.csv", index=False)
        import matplotlib.pyplot as plt
        fig = plot_sweep(pd.DataFrame(rows)); fig.savefig(out/"sweep.png", dpi=120); plt.close(fig)
    for epoch in range(args.epochs):
        for widx, ids in make_loader(train, args.batch_size, epoch, seed=0):
            step += 1
            for r in state:
                t = time.time()
                r["hist"].append(train_step((widx, ids), r["src"], r["student"], r["crit"], r["opt"], clip=1.0, device="cpu"))
                r["secs"] += time.time() - t
            print(f"step {step}/{n_steps} " + " | ".join(f"{r['name']}: {r['hist'][-1]['loss']:.3f}" for r in state)
                  + f" | {time.time() - t0:.0f}s", flush=True)
            if step % args.eval_every == 0 or step == n_steps: evaluate_all()
    for r in state:
        for prompt, resp in zip(PROMPTS, sample_responses(r["student"], tok)):
            print(f"{r['name']}: {resp!r}", flush=True)
        pd.DataFrame(r["hist"]).to_csv(out/f"history {r['name']}.csv", index=False)


def combine(out):
    "Join every stage's sweep.csv into quality.csv and quality.png."
    dfs = [pd.read_csv(f).assign(stage=f.parent.name) for f in sorted(out.glob("*/sweep.csv"))]
    df = pd.concat(dfs, ignore_index=True)
    df["shared"] = df["shared"].astype(object).where(df["shared"].notna(), "") if "shared" in df else ""
    hard = df[(df.alpha == 1) & (df.shared == "")]
    for soft in sorted(set(df.soft_loss) - set(hard.soft_loss)):   # alpha = 1: the soft loss has weight 0, the same run
        if len(hard):
            name = hard.run.iloc[0]
            df = pd.concat([df, hard[hard.run == name].assign(run=name.replace(hard.soft_loss.iloc[0], soft), soft_loss=soft,
                                                              shared=name)], ignore_index=True)
    df.to_csv(out/"quality.csv", index=False)
    plot_sweep(df).savefig(out/"quality.png", dpi=120)
    print(df[df.step == df.step.max()][["run", "student_ppl", "teacher_ppl", "kl", "top1", "train_loss"]].to_string())


if __name__ == "__main__":
    main()
