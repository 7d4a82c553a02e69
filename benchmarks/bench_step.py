"""One training step of the student, seven ways: the reference notebook's step vs distill_edu's, with and
without the teacher cache, vs training the student alone (cross entropy only).

GPT-2-Small-shaped teacher with random weights (timing does not depend on the weights), the course's student
(256/4/4, context 128), batch 16 x 128 on the CPU. The variants are interleaved (one step of each in turn) and
each is timed `--repeat` times after `--warmup` steps; the table shows the median step time, tokens per second,
the ratios to the reference and to the CE-only step, and the peak resident memory of one more step of each
(measured after the timing, above the memory at the step's start).

    python benchmarks/bench_step.py                  # batch 16 x 128, 5 timed steps per variant
    python benchmarks/bench_step.py --batch 32
    python benchmarks/bench_step.py --old /tmp/old   # also the same steps with an older copy of the package, same run

`--old DIR` adds, for every distill_edu variant, the same step computed by an older version of the package
(`DIR/distill_edu_old`, e.g. `git archive <commit> distill_edu | tar -x -C DIR && mv DIR/distill_edu
DIR/distill_edu_old`), interleaved with the current one, and a column `x old` (current tokens/s over the old).
The old package's step is its own `train_step`, so everything the step does is compared, not only the criterion.
"""
import argparse, importlib, shutil, statistics, sys, tempfile, time
from pathlib import Path
import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel

from distill_edu.perf import PeakMemory, release_freed_memory, machine, save_results
from distill_edu.models import make_student
from distill_edu.targets import LiveTeacher
from distill_edu.criteria import DistillCriterion
from distill_edu.train import make_optimizer, train_step
from distill_edu.cache import teacher_cache
from distill_edu.criteria import SparseKDCriterion
from distill_edu.criteria import ChunkedKDCriterion

RESULTS = Path(__file__).resolve().parent/"results"   # where the table is saved (read by the performance lesson)

def reference_step(teacher, student, opt, x, alpha, T):
    "The reference notebook's train_epoch body: fp32 teacher every step, HF's hard loss, F.kl_div(batchmean) on full logits."
    with torch.no_grad(): t = teacher(x).logits
    out = student(x, labels=x)
    s = out.logits
    soft = F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1), reduction="batchmean") * T * T
    loss = alpha * out.loss + (1 - alpha) * soft
    opt.zero_grad(); loss.backward(); opt.step()
    return loss.item()

def old_criteria(folder, alpha, T):
    "The old package's criteria, by the names of the current ones (`folder/distill_edu_old`)."
    sys.path.insert(0, str(folder))
    old = lambda m: importlib.import_module(f"distill_edu_old.{m}")
    def find(name):
        "The class called `name` in whichever module of the old package holds it."
        for module in ("criteria", "chunked", "cache", "targets", "train"):
            try: found = getattr(old(module), name, None)
            except ImportError: continue
            if found is not None: return found
        raise ImportError(f"no {name} in {folder}/distill_edu_old")
    return {name: find(name) for name in ("DistillCriterion", "SparseKDCriterion", "ChunkedKDCriterion")}

def old_train_step(folder):
    "The old package's `train_step` (`folder/distill_edu_old`)."
    sys.path.insert(0, str(folder))
    return importlib.import_module("distill_edu_old.train").train_step

def _fused(crit):
    "The chunked criterion set to fuse the LM head (`train_step` then calls `loss_from_model`)."
    crit.fused = True
    return crit

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=16); ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--alpha", type=float, default=0.5); ap.add_argument("--temperature", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=5); ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--batches", type=int, default=3, help="distinct batches cycled through (all cached up front)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--old", default=None, help="a folder holding an older copy of the package as distill_edu_old: time it too")
    ap.add_argument("--smoke", action="store_true", help="tiny models and vocabulary: checks the script runs (not a measurement)")
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    V, B, S, T, alpha = (1000 if a.smoke else 50257), a.batch, a.seq, a.temperature, a.alpha
    small = dict(n_embd=64, n_layer=2, n_head=2) if a.smoke else {}
    teacher = GPT2LMHeadModel(GPT2Config(vocab_size=V, **small)).eval()      # GPT-2 Small shape, random weights
    for p in teacher.parameters(): p.requires_grad_(False)
    windows = torch.randint(0, V, (a.batches * B, S))
    batches = [(torch.arange(i * B, (i + 1) * B), windows[i * B:(i + 1) * B]) for i in range(a.batches)]
    tmp = Path(tempfile.mkdtemp(prefix="bench_step_"))
    t0 = time.perf_counter()
    sparse = teacher_cache(teacher, windows, tmp/"sparse", k=16, samples=92, temperatures=(1.0, 2.0)).fill(windows, batch_size=B, progress=False)
    t_sparse = (time.perf_counter() - t0) / a.batches
    t0 = time.perf_counter()
    exact = teacher_cache(teacher, windows, tmp/"exact", mode="exact").fill(windows, batch_size=B, progress=False)
    t_exact = (time.perf_counter() - t0) / a.batches
    live = LiveTeacher(teacher)

    def student():
        s = make_student(V, seed=0, n_positions=S, **(dict(n_embd=32, n_layer=1, n_head=2) if a.smoke else {}))
        s.train(); return s, make_optimizer(s)
    variants = {
        "reference: live fp32 teacher + F.kl_div(batchmean)": ("ref", None, None, False),
        "distill_edu: live teacher + DistillCriterion": ("d", live, DistillCriterion(alpha, "kld", T), False),
        "distill_edu: exact cache (fp16) + ChunkedKDCriterion": ("d", exact, ChunkedKDCriterion(alpha, "kld", T), False),
        "distill_edu: sparse cache + SparseKDCriterion": ("d", sparse, SparseKDCriterion(alpha, "kld", T), False),
        "distill_edu: sparse cache + ChunkedKDCriterion": ("d", sparse, ChunkedKDCriterion(alpha, "kld", T), False),
        "distill_edu: sparse cache + ChunkedKDCriterion, T=1": ("d", sparse, ChunkedKDCriterion(alpha, "kld", 1.0), False),
        "distill_edu: sparse cache + fused head (chunk 512)": ("d", sparse, ChunkedKDCriterion(alpha, "kld", T, chunk=512), True),
        "CE only: student alone (hard_loss)": ("d", None, DistillCriterion(1.0), False),
    }
    if a.old:
        mk, old_step = old_criteria(a.old, alpha, T), old_train_step(a.old)
        for name, (kind, source, crit, fused) in list(variants.items()):
            if kind != "d": continue
            c = type(crit).__name__
            # keywords: the old package's criteria took (alpha, temperature, ...) where the current ones take (alpha, soft_loss, temperature)
            settings = dict(alpha=crit.alpha, soft_loss=crit.soft_loss, temperature=crit.temperature)
            if c == "ChunkedKDCriterion": settings["chunk"] = crit.chunk
            old_crit = mk[c](**settings)
            variants["old " + name] = ("old", source, old_crit, fused)
    state = {name: student() for name in variants}
    times = {name: [] for name in variants}; peaks = {name: [] for name in variants}
    def run(name, rep):
        kind, source, crit, fused = variants[name]
        stu, opt = state[name]
        widx, x = batches[rep % a.batches]
        if kind == "ref": reference_step(teacher, stu, opt, x, alpha, T)
        elif kind == "old": old_step((widx, x), source, stu, crit if not fused else _fused(crit), opt, clip=1.0)
        else: train_step((widx, x), source, stu, crit if not fused else _fused(crit), opt, clip=1.0)
    def order(rep):
        "Every variant once; with --old each old step runs right beside its current twin, first on every other round."
        if not a.old: return list(variants)
        out = []
        for name in variants:
            if name.startswith("old "): continue
            pair = [name] + (["old " + name] if "old " + name in variants else [])
            out += pair if rep % 2 == 0 else pair[::-1]
        return out
    for rep in range(a.warmup + a.repeat):           # timing: interleaved, glibc's default allocator behaviour
        for name in order(rep):
            t0 = time.perf_counter(); run(name, rep); dt = time.perf_counter() - t0
            if rep >= a.warmup: times[name].append(dt)
        print(f"  round {rep + 1}/{a.warmup + a.repeat} done", file=sys.stderr)
    release_freed_memory()                           # memory: one more step each, freed blocks returned to the system
    for name in variants:
        with PeakMemory() as pm: run(name, a.warmup + a.repeat)
        peaks[name].append(pm.peak)
    import pandas as pd
    rows = []
    for name in variants:
        med = statistics.median(times[name])
        rows.append({"variant": name, "step_s": med, "tokens_per_s": B * S / med,
                     "peak_step_MiB": None if peaks[name][0] is None else max(peaks[name]) / 2**20, "times": times[name]})
    df = pd.DataFrame(rows).set_index("variant")
    ref, ce = df.iloc[0], df.loc["CE only: student alone (hard_loss)"]
    df["x reference"] = df["tokens_per_s"] / ref["tokens_per_s"]
    df["x CE-only"] = df["tokens_per_s"] / ce["tokens_per_s"]
    if a.old:
        df["x old"] = [df.loc[n, "tokens_per_s"] / df.loc["old " + n, "tokens_per_s"] if "old " + n in df.index else float("nan") for n in df.index]
        # paired: each round ran a variant and its old twin side by side, so the ratio within a round cancels most of
        # the machine's drift; its median and range over the rounds say whether a difference is real
        paired = {n: sorted(o / c for o, c in zip(times["old " + n], times[n])) for n in df.index if "old " + n in df.index}
        df["x old, paired median"] = [statistics.median(paired[n]) if n in paired else float("nan") for n in df.index]
        df["paired range"] = [f"{paired[n][0]:.3f}-{paired[n][-1]:.3f}" if n in paired else "" for n in df.index]
    header = dict(machine=machine(), batch=f"{B} x {S}", alpha=alpha, temperature=T, repeat=a.repeat, warmup=a.warmup,
                  teacher="GPT-2 Small shape (124M, random weights), fp32", student="GPT-2 256/4/4, vocab 50,257 (16.1M)",
                  cache_build_s_per_batch={"sparse (k=16, samples=92, T=1,2)": t_sparse, "exact fp16": t_exact},
                  note="median step time over `repeat` interleaved steps after `warmup`; the cache was filled before "
                       "timing (its one-off cost per batch is in cache_build_s_per_batch); peak = the resident memory "
                       "above its start of one further step per variant, measured after the timing with freed blocks "
                       "returned to the system")
    print(f"# bench_step — batch {B} x {S}, alpha {alpha}, T {T}\n# {header['machine']}")
    print(f"# teacher: {header['teacher']}; student: {header['student']}")
    print(f"# one-off cache fill per batch: sparse {t_sparse:.2f} s, exact {t_exact:.2f} s")
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        cols = ["step_s", "tokens_per_s", "x reference", "x CE-only", "peak_step_MiB"]
        cols += ["x old", "x old, paired median", "paired range"] if a.old else []
        print(df[cols].to_string(float_format=lambda v: f"{v:.3g}"))
    if not (a.no_save or a.smoke): print("saved", save_results("step", df.reset_index().to_dict("records"), RESULTS, **header))
    shutil.rmtree(tmp, ignore_errors=True)   # the caches (the exact one is ~200 MB per batch)

if __name__ == "__main__":
    main()
