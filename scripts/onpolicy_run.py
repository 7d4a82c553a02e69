"""The measurement of the on-policy lesson: teacher-forced vs on-policy (λ = 0.5, 1) vs sequence-level KD.

Teacher SmolLM2-135M (offline), IMDB reviews from $DISTILL_EDU_IMDB split by review, the course's student
shape (256/4/4) with the teacher's vocabulary, windows of `--context` tokens. One shared teacher-forced
warm-up (`--warmup-steps`) gives a student whose samples are text-like; from that same checkpoint every
set-up then takes the same `--steps` optimizer steps on the same batches in the same order, with the same
divergence (generalized JSD, β = `--beta`, T = 1, α = 0) and a live teacher. Only where the text comes from
differs: the real windows (λ = 0), the student's own continuations of their first `--prompt` tokens
(λ = 0.5: a seeded coin per batch, λ = 1: always), or the teacher's continuations (with the JSD, or with the NLL
of the teacher's tokens alone: sequence-level KD, Kim & Rush 2016). `--seed` sets the split, the student's init, the
batch order and the sampling; a rerun skips the set-ups already in OUT.csv.

Each student (and the warm-up start) is scored on
  (a) held-out windows, teacher-forced: perplexity and KL(teacher ‖ student) per token;
  (b) its own continuations (`--new` tokens, T = 1, no top-k) of held-out prefixes: the teacher's per-token
      NLL, the per-token KL(teacher ‖ student) and distinct-2, also along the continuation position.
Writes OUT.csv (one row per set-up) and OUT.json (metadata, position curves, samples, step timings)
after every run, so a stopped job leaves what it finished.

    nice -n 5 python scripts/onpolicy_run.py --seed 0 --out runs/onpolicy/seed0 > /tmp/onpolicy.log 2>&1 &

(scripts/seeds_study.sh onpolicy runs it for seeds 0, 1 and 2; scripts/collect_seeds.py copies the tables to nbs/on_policy/)
"""
import argparse, json, os, platform, sys, time
from pathlib import Path
import pandas as pd
import torch

from distill_edu.resources import imdb_path
from distill_edu.models import load_teacher, load_tokenizer, make_student, SMOLLM2
from distill_edu.data import prepare_windows
from distill_edu.targets import LiveTeacher
from distill_edu.train import distill
from distill_edu.evaluate import evaluate
from distill_edu.cache import teacher_cache
from distill_edu.criteria import SparseKDCriterion
from distill_edu.onpolicy import OnPolicySource, on_policy_criterion, rollout_metrics, continuation_scores

# Where each set-up's text comes from, and its α (0: the JSD alone; 1: NLL on the tokens alone). "teacher samples + JSD"
# is the JSD on the teacher's continuations (it was called "seq-KD" before); "seq-KD" proper (Kim & Rush 2016) is the
# NLL of the teacher's outputs, α = 1 on the same continuations.
SETUPS = {"teacher-forced": dict(lmbda=0.0, seq_kd=False), "on-policy λ=0.5": dict(lmbda=0.5, seq_kd=False),
          "on-policy λ=1": dict(lmbda=1.0, seq_kd=False), "teacher samples + JSD": dict(lmbda=0.0, seq_kd=True),
          "seq-KD (NLL)": dict(lmbda=0.0, seq_kd=True, alpha=1.0)}


def spread(ds, n):
    "`n` windows spread evenly over `ds`."
    step = max(1, len(ds) // n)
    return torch.utils.data.Subset(ds, list(range(0, len(ds), step))[:n])


def score(student, teacher, valid, prefixes, args):
    "(a) teacher-forced held-out metrics and (b) rollout metrics of `student`."
    a = evaluate(student, valid, LiveTeacher(teacher), batch_size=args.batch)
    b = rollout_metrics(student, teacher, prefixes, args.new, seed=1, batch_size=args.batch)
    return a, b


def train(student, teacher, train_w, steps, setup, args, data_seed):
    "`steps` steps of `distill` with one set-up, batches in the order of `data_seed`; (history, wall seconds)."
    setup = dict(setup)
    alpha = setup.pop("alpha", 0.0)
    src = OnPolicySource(teacher, student, prompt_tokens=args.prompt, max_new_tokens=args.new, seed=args.seed, **setup)
    crit = on_policy_criterion(alpha, "jsd", 1.0, args.beta)
    t0 = time.perf_counter()
    res = distill(student, src, train_w, crit, batch_size=args.batch, max_steps=steps, lr=args.lr, seed=data_seed,
                  device="cpu", progress=False, log=None)
    return res.history, time.perf_counter() - t0


def cache_timing(teacher, train_w, args):
    "Seconds per step of teacher-forced training with a sparse teacher cache (built first, not timed) vs the live teacher."
    from distill_edu.criteria import kd_criterion
    sub = torch.utils.data.Subset(train_w, range(args.batch * args.timing_steps))
    cache = teacher_cache(teacher, sub, path=Path(args.tmp)/"cache", mode="sparse", temperatures=(1.0,))
    out = {}
    for name, src, crit in [("teacher cache (sparse)", cache, SparseKDCriterion(0.0, "kld", 1.0)),
                            ("live teacher", LiveTeacher(teacher), kd_criterion(0.0, "kld", 1.0))]:
        s = make_student(teacher.config.vocab_size, n_positions=args.context, seed=0)
        distill(s, src, sub, crit, batch_size=args.batch, max_steps=1, seed=0, device="cpu", progress=False, log=None)  # warm
        t0 = time.perf_counter()
        distill(s, src, sub, crit, batch_size=args.batch, max_steps=args.timing_steps, seed=0, device="cpu", progress=False, log=None)
        out[name] = (time.perf_counter() - t0) / args.timing_steps
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=40, help="optimizer steps of each set-up")
    p.add_argument("--warmup-steps", type=int, default=40, help="shared teacher-forced steps before the set-ups split")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--context", type=int, default=64, help="tokens per training window (= prompt + new)")
    p.add_argument("--prompt", type=int, default=32)
    p.add_argument("--new", type=int, default=32)
    p.add_argument("--beta", type=float, default=0.5)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--reviews", type=int, default=2000)
    p.add_argument("--eval-windows", type=int, default=32)
    p.add_argument("--eval-prefixes", type=int, default=32)
    p.add_argument("--timing-steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--setups", default=",".join(SETUPS))
    p.add_argument("--data", default=None)
    p.add_argument("--tmp", default="/tmp/onpolicy_run")
    p.add_argument("--out", default="runs/onpolicy/seed0")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the student's init, the batch order and the sampling")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    t_start, load0 = time.perf_counter(), os.getloadavg()
    tok, teacher = load_tokenizer(SMOLLM2), load_teacher(SMOLLM2, device="cpu")
    train_w, valid_all = prepare_windows(tok, imdb_path(args.data), args.reviews, args.context, args.context, seed=args.seed, progress=False)
    valid = spread(valid_all, args.eval_windows)
    prefixes = torch.stack([valid_all[i][:args.prompt] for i in spread(valid_all, args.eval_prefixes).indices])
    real = torch.stack([valid_all[i][:args.prompt + args.new] for i in spread(valid_all, args.eval_prefixes).indices])
    meta = dict(teacher=SMOLLM2, data=str(imdb_path(args.data)), reviews=args.reviews, train_windows=len(train_w),
                valid_windows=len(valid), eval_prefixes=len(prefixes), context=args.context, prompt_tokens=args.prompt,
                new_tokens=args.new, batch_size=args.batch, steps=args.steps, warmup_steps=args.warmup_steps,
                divergence=f"generalized JSD, beta={args.beta}, T=1, alpha=0", lr=args.lr, sampling="T=1, no top-k",
                student="GPT-2 256/4/4, vocab 49152", device="cpu", threads=args.threads, torch=torch.__version__,
                machine=f"{platform.machine()}, {os.cpu_count()} cores, shared", load_avg_start=load0,
                started=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), runs={}, seed=args.seed)
    meta["real_position_nll"] = continuation_scores(teacher, None, real, args.prompt)["teacher_nll"].mean(0).tolist()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # resumable: set-ups already in OUT.csv are kept and skipped, the warm-up's weights are reused from --tmp
    done = pd.read_csv(out.with_suffix(".csv")) if out.with_suffix(".csv").exists() else None
    rows = [] if done is None else done.to_dict("records")
    if done is not None and out.with_suffix(".json").exists():
        meta["runs"] = json.loads(out.with_suffix(".json").read_text()).get("runs", {})

    def save(name, a, b, wall, steps, hist=None):
        rows.append({"seed": args.seed, "setup": name, "steps": steps, "wall_s": round(wall, 1), "s_per_step": round(wall / steps, 2) if steps else None,
                     "tf_ppl": a["student_ppl"], "tf_kl": a["kl"], "rollout_teacher_nll": b["teacher_nll"],
                     "rollout_kl": b["kl"], "distinct2": b["distinct2"]})
        meta["runs"][name] = {"position_nll": b["position_nll"], "position_kl": b["position_kl"],
                              "sample": tok.decode(b["samples"][0][args.prompt:]),
                              "data_counts": None if hist is None else hist["data"].value_counts().to_dict()}
        meta["teacher_ppl"] = a["teacher_ppl"]
        meta["wall_total_s"], meta["load_avg_end"] = round(time.perf_counter() - t_start, 1), os.getloadavg()
        pd.DataFrame(rows).to_csv(out.with_suffix(".csv"), index=False)
        out.with_suffix(".json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))
        print(f"{name}: {rows[-1]}", flush=True)

    finished = {r["setup"] for r in rows}
    timing_missing = args.timing_steps and "s_per_step_teacher_forced" not in meta
    if finished >= {"start (warm-up)", *args.setups.split(",")} and not timing_missing:
        return print(f"seed {args.seed}: every set-up is already in {out.with_suffix('.csv')}", flush=True)
    start_file = Path(args.tmp) / f"seed{args.seed}-warmup.pt"
    student = make_student(tok, n_positions=args.context, seed=args.seed)
    wall = float("nan")   # the warm-up's time, unknown when its weights are reused
    if start_file.exists():
        student.load_state_dict(torch.load(start_file, weights_only=True))
    else:
        hist, wall = train(student, teacher, train_w, args.warmup_steps, SETUPS["teacher-forced"], args, data_seed=2 * args.seed)
        start_file.parent.mkdir(parents=True, exist_ok=True)
        torch.save(student.state_dict(), start_file)
    start = {k: v.clone() for k, v in student.state_dict().items()}
    if "start (warm-up)" not in finished:
        save("start (warm-up)", *score(student, teacher, valid, prefixes, args), wall, args.warmup_steps)
    # every set-up: the same start, the same batches (another order than the warm-up's), the same steps
    for name in args.setups.split(","):
        if name in finished:
            print(f"{name}: already in {out.with_suffix('.csv')}, skipped", flush=True)
            continue
        s = make_student(tok, n_positions=args.context, seed=args.seed)
        s.load_state_dict(start)
        hist, wall = train(s, teacher, train_w, args.steps, SETUPS[name], args, data_seed=2 * args.seed + 1)
        save(name, *score(s, teacher, valid, prefixes, args), wall, args.steps, hist)
    if args.timing_steps and "s_per_step_teacher_forced" not in meta:
        meta["s_per_step_teacher_forced"] = cache_timing(teacher, train_w, args)
        pd.DataFrame(rows).to_csv(out.with_suffix(".csv"), index=False)
        out.with_suffix(".json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))
        print(meta["s_per_step_teacher_forced"], flush=True)
    print(f"done in {time.perf_counter() - t_start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
