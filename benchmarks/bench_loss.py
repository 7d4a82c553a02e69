"""KD loss forward + backward at 32 x 128 x 50,257: naive vs chunked vs chunked with the LM head fused.

Memory: each variant runs alone in a fresh subprocess (so one variant's freed memory cannot hide another's
peak): one warm-up, then one forward+backward measured as the peak resident memory above its inputs (created
before the measurement), and the largest differences from `kld_loss` in value and gradient. Time: all variants
in one process, interleaved (one run of each in turn, so background load hits them alike), median of
`--repeat` runs after a warm-up round.

    python benchmarks/bench_loss.py                 # the full size (needs ~6 GB of RAM)
    python benchmarks/bench_loss.py --batch 4       # a quick look
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path
RESULTS = Path(__file__).resolve().parent/"results"   # where the tables are saved (read by the performance lesson)
import torch

VARIANTS = {
    "reference F.kl_div(batchmean)": "the reference notebook's loss (divides by the batch size only; another scale)",
    "kld_loss (unchunked)": "distill_edu.losses.kld_loss: the naive per-token loss",
    "chunked_kld_loss": "distill_edu.chunked.chunked_kld_loss (chunks of 64 positions, gradient from its formula)",
    "chunked_kld_loss, autograd": "the same with closed_form=False: autograd through kld_loss on each chunk",
    "kld_loss + LM head": "logits = h @ W.T, then kld_loss; gradients for h and W",
    "fused head + chunked": "distill_edu.chunked.fused_kld_loss from h and W: logits exist one chunk at a time",
}

def inputs(B, S, V, H, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(B, S, V, generator=g) * 2
    h = torch.randn(B, S, H, generator=g)
    W = torch.randn(V, H, generator=g) / H ** 0.5
    return t, h, W

def make_variant(name, t, s, h, W, T):
    "(prepare, step) for one variant: `prepare()` makes fresh leaf inputs, `step(inputs)` runs loss + backward."
    from distill_edu.losses import kld_loss
    from distill_edu.criteria import chunked_kld_loss, fused_kld_loss
    import torch.nn.functional as F
    def prepare():
        if "head" in name: return h.clone().requires_grad_(), W.clone().requires_grad_()
        return (s.clone().requires_grad_(),)
    def step(ins):
        if name == "reference F.kl_div(batchmean)":
            loss = F.kl_div(F.log_softmax(ins[0] / T, -1), F.softmax(t / T, -1), reduction="batchmean") * T * T
        elif name == "kld_loss (unchunked)": loss = kld_loss(ins[0], t, T)
        elif name == "chunked_kld_loss": loss = chunked_kld_loss(ins[0], t, T)
        elif name == "chunked_kld_loss, autograd": loss = chunked_kld_loss(ins[0], t, T, closed_form=False)
        elif name == "kld_loss + LM head": loss = kld_loss(ins[0] @ ins[1].t(), t, T)
        else: loss = fused_kld_loss(ins[0], ins[1], t, T)
        loss.backward()
        return loss.detach(), tuple(x.grad for x in ins)
    return prepare, step

def memory_one(name, B, S, V, H, T):
    "Peak memory of one forward+backward (after a warm-up) and the differences from kld_loss; prints a JSON line."
    from distill_edu.perf import PeakMemory, release_freed_memory
    from distill_edu.losses import kld_loss
    release_freed_memory()
    t, h, W = inputs(B, S, V, H)
    with torch.no_grad(): s = (h @ W.t()).contiguous()        # the student logits (an input for the logit variants)
    prepare, step = make_variant(name, t, s, h, W, T)
    step(prepare())                                            # warm-up
    ins = prepare()
    with PeakMemory() as pm: value, grad = step(ins)
    ref_ins = prepare()
    ref = kld_loss(ref_ins[0] @ ref_ins[1].t(), t, T) if "head" in name else kld_loss(ref_ins[0], t, T)
    ref.backward()
    scale = S if name.startswith("reference") else 1          # batchmean = S x the per-token mean
    dg = max((a - b.grad * scale).abs().max().item() for a, b in zip(grad, ref_ins))
    print(json.dumps({"variant": name, "peak_above_inputs_MiB": None if pm.peak is None else pm.peak / 2**20,
                      "value": value.item(), "max_abs_diff_value": abs(value.item() - (ref * scale).item()), "max_abs_diff_grad": dg}))

def timing(names, B, S, V, H, T, repeat, warmup=1):
    "Median seconds per variant, the variants interleaved (one run of each in turn) so background load hits all alike."
    import statistics
    t, h, W = inputs(B, S, V, H)
    with torch.no_grad(): s = (h @ W.t()).contiguous()
    vs = {n: make_variant(n, t, s, h, W, T) for n in names}
    times = {n: [] for n in names}
    for r in range(warmup + repeat):
        for n, (prepare, step) in vs.items():
            ins = prepare()
            t0 = time.perf_counter(); step(ins); dt = time.perf_counter() - t0
            del ins
            if r >= warmup: times[n].append(dt)
        print(f"  timing round {r + 1}/{warmup + repeat}", file=sys.stderr)
    return {n: (statistics.median(v), v) for n, v in times.items()}

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32); ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=50257); ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--temperature", type=float, default=2.0); ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", help="run one variant in this process (used internally)")
    ap.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/loss.json")
    ap.add_argument("--reuse-memory", action="store_true", help="take the memory columns from benchmarks/results/loss.json, redo the timing")
    a = ap.parse_args()
    if a.only: return memory_one(a.only, a.batch, a.seq, a.vocab, a.hidden, a.temperature)
    from distill_edu.perf import machine, save_results, load_results
    import pandas as pd
    rows = []
    prev = load_results("loss", RESULTS) if a.reuse_memory else None
    if prev is not None: rows = [{k: r[k] for k in ("variant", "peak_above_inputs_MiB", "value", "max_abs_diff_value", "max_abs_diff_grad")}
                                 for r in prev[1].to_dict("records")]
    for name in ([] if rows else VARIANTS):   # memory: each variant alone in a fresh process
        out = subprocess.run([sys.executable, __file__, "--only", name, "--batch", str(a.batch), "--seq", str(a.seq),
                              "--vocab", str(a.vocab), "--hidden", str(a.hidden), "--temperature", str(a.temperature)],
                             capture_output=True, text=True)
        if out.returncode: sys.exit(f"{name} failed:\n{out.stderr}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"  {name}: {rows[-1]['peak_above_inputs_MiB']:.0f} MiB", file=sys.stderr)
    tm = timing(list(VARIANTS), a.batch, a.seq, a.vocab, a.hidden, a.temperature, a.repeat)
    for r in rows: r["time_s"], r["times"] = tm[r["variant"]]
    df = pd.DataFrame(rows).set_index("variant")
    base = df.loc["kld_loss (unchunked)"]
    df["time vs kld_loss"] = df["time_s"] / base["time_s"]
    df["memory vs kld_loss"] = df["peak_above_inputs_MiB"] / base["peak_above_inputs_MiB"]
    head = df.loc["kld_loss + LM head"]
    df.loc["fused head + chunked", "memory vs kld_loss + head"] = df.loc["fused head + chunked", "peak_above_inputs_MiB"] / head["peak_above_inputs_MiB"]
    header = dict(machine=machine(), shape=f"{a.batch} x {a.seq} x {a.vocab} (hidden {a.hidden})", temperature=a.temperature,
                  repeat=a.repeat, note="median of `repeat` interleaved timed runs after one warm-up round; peak = resident memory above the inputs "
                  "during one forward+backward; diffs against distill_edu.losses.kld_loss (the reference's batchmean is compared "
                  "after scaling kld_loss by the sequence length)")
    print(f"# bench_loss — {header['shape']}, T = {a.temperature}\n# {header['machine']}")
    cols = ["time_s", "time vs kld_loss", "peak_above_inputs_MiB", "memory vs kld_loss", "memory vs kld_loss + head",
            "max_abs_diff_value", "max_abs_diff_grad"]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df[cols].to_string(float_format=lambda v: f"{v:.3g}"))
    if not a.no_save: print("saved", save_results("loss", df.reset_index().drop(columns=["times"]).to_dict("records"), RESULTS, **header))

if __name__ == "__main__":
    main()
