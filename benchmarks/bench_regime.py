"""What one optimizer step costs in the regime study (nbs/31_when_distillation_pays.ipynb), measured in one run:
the student trained on hard labels alone vs distilled from the sparse teacher cache vs distilled from the live
teacher, and what filling the cache costs per batch.

The study's own settings: the bundled SmolLM2-135M teacher with the weights the CLI's `--teacher-dtype auto` picks,
real IMDB windows (128 tokens, batch 16), the student GPT-2 256/4/4 with the teacher's vocabulary, alpha = 0 and
T = 1 for the distilled steps. The three steps are interleaved (one of each in turn, so background load hits all
alike), each timed `--repeat` times after `--warmup`; the table shows the median and the ratio to the hard-label
step. The fill is timed per batch of 16 new windows (the teacher's forward pass, the sparse targets computed and
written, and read back once), for a cache of one temperature and of two (as the sweeps use).

    python benchmarks/bench_regime.py            # ~3 min on 2 idle CPU cores
    python benchmarks/bench_regime.py --smoke    # tiny models: checks the script runs (not a measurement)
"""
import argparse, statistics, sys, tempfile, time
from pathlib import Path
import torch

from distill_edu.perf import machine, save_results
from distill_edu.models import load_teacher, load_tokenizer, make_student, SMOLLM2
from distill_edu.data import prepare_windows
from distill_edu.targets import LiveTeacher
from distill_edu.train import make_optimizer, train_step
from distill_edu.cache import teacher_cache
from distill_edu.criteria import kd_criterion
from distill_edu.resources import imdb_path
from distill_edu.models import teacher_dtype

RESULTS = Path(__file__).resolve().parent/"results"

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=16); ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1); ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="tiny teacher and student: checks the script runs")
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    B, S, n_batches = a.batch, 128, a.warmup + a.repeat
    if a.smoke:
        from transformers import GPT2Config, GPT2LMHeadModel
        torch.manual_seed(0); V = 1000; S = 32
        teacher = GPT2LMHeadModel(GPT2Config(vocab_size=V, n_embd=32, n_layer=1, n_head=2, n_positions=S)).eval()
        for p in teacher.parameters(): p.requires_grad_(False)
        windows = torch.randint(0, V, (n_batches * B, S)); size = dict(n_embd=16, n_layer=1, n_head=2); vocab = V
        teacher_name = "tiny random GPT-2 (smoke test)"
    else:
        tok = load_tokenizer(SMOLLM2)
        dtype = teacher_dtype("auto", torch.device("cpu"))   # as --teacher-dtype auto
        teacher = load_teacher(SMOLLM2, device="cpu", dtype=dtype)
        train, _ = prepare_windows(tok, imdb_path(), 1000, S, S, seed=0, progress=False)
        windows = torch.stack([train[i] for i in range(n_batches * B)]); size = dict(n_embd=256, n_layer=4, n_head=4); vocab = tok
        teacher_name = f"SmolLM2-135M, weights {next(teacher.parameters()).dtype}"
    batches = [(torch.arange(i * B, (i + 1) * B), windows[i * B:(i + 1) * B]) for i in range(n_batches)]
    tmp = Path(tempfile.mkdtemp(prefix="bench_regime_"))
    fills = {}
    for temps in [(1.0,), (1.0, 2.0)]:
        cache = teacher_cache(teacher, windows, tmp/f"sparse{len(temps)}", k=16, samples=92, temperatures=temps)
        per = []
        for widx, x in batches:
            t0 = time.perf_counter(); cache(x, widx); per.append(time.perf_counter() - t0)   # a missing window is computed and written
        fills[f"fill the sparse cache, T = {', '.join(f'{t:g}' for t in temps)} (per batch)"] = per[a.warmup:]
    live = LiveTeacher(teacher)
    variants = {"hard labels only (alpha = 1)": (None, kd_criterion(1.0, "kld", 1.0)),
                "distilled from the sparse cache (alpha = 0, T = 1)": (cache, kd_criterion(0.0, "kld", 1.0)),
                "distilled from the live teacher (alpha = 0, T = 1)": (live, kd_criterion(0.0, "kld", 1.0))}
    def student():
        s = make_student(vocab, seed=0, n_positions=S, **size); s.train(); return s, make_optimizer(s)
    state = {name: student() for name in variants}
    times = {name: [] for name in variants}
    for rep, batch in enumerate(batches):
        for name, (source, crit) in variants.items():
            stu, opt = state[name]
            t0 = time.perf_counter(); train_step(batch, source, stu, crit, opt, clip=1.0); dt = time.perf_counter() - t0
            if rep >= a.warmup: times[name].append(dt)
        print(f"  round {rep + 1}/{n_batches} done", file=sys.stderr)
    base = statistics.median(times["hard labels only (alpha = 1)"])
    rows = [{"what": n, "seconds": statistics.median(t), "x hard-label step": statistics.median(t) / base, "times": t}
            for n, t in {**times, **fills}.items()]
    import pandas as pd
    df = pd.DataFrame(rows).set_index("what")
    print(f"{machine()}\nteacher {teacher_name}; batch {B} x {S}; median of {a.repeat} after {a.warmup} warm-up\n")
    print(df.drop(columns="times").to_string(float_format=lambda x: f"{x:.3f}"))
    if not a.no_save and not a.smoke:
        p = save_results("regime", rows, RESULTS, machine=machine(), teacher=teacher_name, batch=f"{B} x {S}",
                         student="GPT-2 256/4/4, vocab 49,152", repeat=a.repeat, warmup=a.warmup,
                         note="median seconds; the steps interleaved; the fill timed per batch of new windows")
        print(f"saved {p}")

if __name__ == "__main__": main()
