"""KD loss forward + backward at 32 x 128 x 50,257: naive vs chunked vs chunked with the LM head fused.

Each variant runs in its own subprocess (so one variant's freed memory cannot hide another's peak), after a
warm-up, `--repeat` times; the table shows the median time, the peak resident memory above the inputs (created before the measurement), and the
largest differences from `kld_loss` in value and gradient.

    python benchmarks/bench_loss.py                 # the full size (needs ~6 GB of RAM)
    python benchmarks/bench_loss.py --batch 4       # a quick look
"""
import argparse, json, os, subprocess, sys, time
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

def run_one(name, B, S, V, H, T, repeat):
    "Time and measure one variant; prints a JSON line."
    from distill_edu.perf import PeakMemory, release_freed_memory
    from distill_edu.losses import kld_loss
    from distill_edu.chunked import chunked_kld_loss, fused_kld_loss
    import torch.nn.functional as F
    release_freed_memory()
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", torch.get_num_threads())))
    t, h, W = inputs(B, S, V, H)
    with torch.no_grad(): s = (h @ W.t()).contiguous()        # the student logits (an input for the logit variants)
    fused = lambda hh, WW: fused_kld_loss(hh, WW, t, T)
    def prepare():
        "Fresh leaf inputs (not measured: they are the inputs)."
        if "head" in name: return h.clone().requires_grad_(), W.clone().requires_grad_()
        return (s.clone().requires_grad_(),)
    def step(ins):
        if name == "reference F.kl_div(batchmean)":
            (x,) = ins
            loss = F.kl_div(F.log_softmax(x / T, -1), F.softmax(t / T, -1), reduction="batchmean") * T * T
        elif name == "kld_loss (unchunked)": loss = kld_loss(ins[0], t, T)
        elif name == "chunked_kld_loss": loss = chunked_kld_loss(ins[0], t, T)
        elif name == "chunked_kld_loss, autograd": loss = chunked_kld_loss(ins[0], t, T, closed_form=False)
        elif name == "kld_loss + LM head": loss = kld_loss(ins[0] @ ins[1].t(), t, T)
        else: loss = fused(*ins)
        loss.backward()
        return loss.detach(), tuple(x.grad for x in ins)
    step(prepare())                                            # warm-up
    times = []
    for r in range(repeat):                                    # the first timed run also measures the peak
        ins = prepare()
        with PeakMemory() as pm_r:
            t0 = time.perf_counter(); out = step(ins); times.append(time.perf_counter() - t0)
        if r == 0: pm, (value, grad) = pm_r, out
        del ins, out
    med = sorted(times)[len(times) // 2]
    # differences from kld_loss (computed after the measurements)
    ref_ins = prepare()
    ref = kld_loss(ref_ins[0] @ ref_ins[1].t(), t, T) if "head" in name else kld_loss(ref_ins[0], t, T)
    ref.backward()
    scale = S if name.startswith("reference") else 1          # batchmean = S x the per-token mean
    dg = max((a - b.grad * scale).abs().max().item() for a, b in zip(grad, ref_ins))
    ref = ref * scale
    inputs_mb = sum(x.numel() * x.element_size() for x in ((t, h, W) if "head" in name else (t, s))) / 2**20
    print(json.dumps({"variant": name, "time_s": med, "times": times, "peak_above_inputs_MiB": None if pm.peak is None else pm.peak / 2**20,
                      "value": value.item(), "max_abs_diff_value": abs(value.item() - ref.item()), "max_abs_diff_grad": dg,
                      "inputs_MiB": inputs_mb}))

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32); ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=50257); ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--temperature", type=float, default=2.0); ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", help="run one variant in this process (used internally)")
    ap.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/loss.json")
    a = ap.parse_args()
    if a.only: return run_one(a.only, a.batch, a.seq, a.vocab, a.hidden, a.temperature, a.repeat)
    from distill_edu.perf import machine, save_results
    import pandas as pd
    rows = []
    for name in VARIANTS:
        out = subprocess.run([sys.executable, __file__, "--only", name, "--batch", str(a.batch), "--seq", str(a.seq),
                              "--vocab", str(a.vocab), "--hidden", str(a.hidden), "--temperature", str(a.temperature),
                              "--repeat", str(a.repeat)], capture_output=True, text=True)
        if out.returncode: sys.exit(f"{name} failed:\n{out.stderr}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"  {name}: {rows[-1]['time_s']:.2f} s, {rows[-1]['peak_above_inputs_MiB']:.0f} MiB", file=sys.stderr)
    df = pd.DataFrame(rows).set_index("variant")
    base = df.loc["kld_loss (unchunked)"]
    df["time vs kld_loss"] = df["time_s"] / base["time_s"]
    df["memory vs kld_loss"] = df["peak_above_inputs_MiB"] / base["peak_above_inputs_MiB"]
    head = df.loc["kld_loss + LM head"]
    df.loc["fused head + chunked", "memory vs kld_loss + head"] = df.loc["fused head + chunked", "peak_above_inputs_MiB"] / head["peak_above_inputs_MiB"]
    header = dict(machine=machine(), shape=f"{a.batch} x {a.seq} x {a.vocab} (hidden {a.hidden})", temperature=a.temperature,
                  repeat=a.repeat, note="median of `repeat` timed runs after one warm-up; peak = resident memory above the inputs "
                  "during one forward+backward; diffs against distill_edu.losses.kld_loss (the reference's batchmean is compared "
                  "after scaling kld_loss by the sequence length)")
    print(f"# bench_loss — {header['shape']}, T = {a.temperature}\n# {header['machine']}")
    cols = ["time_s", "time vs kld_loss", "peak_above_inputs_MiB", "memory vs kld_loss", "memory vs kld_loss + head",
            "max_abs_diff_value", "max_abs_diff_grad"]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df[cols].to_string(float_format=lambda v: f"{v:.3g}"))
    if not a.no_save: print("saved", save_results("loss", df.reset_index().drop(columns=["times"]).to_dict("records"), **header))

if __name__ == "__main__":
    main()
