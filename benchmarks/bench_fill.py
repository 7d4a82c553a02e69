"""Filling the sparse teacher cache vs the teacher's forward alone, on the CPU.

The bundled SmolLM2-135M teacher (vocab 49,152) on a batch of real IMDB windows (random tokens when no local copy),
16 x 128 by default, sparse settings k=16, samples=92. In the same run, interleaved (one repetition of each variant
in turn), median of `--repeat` after `--warmup`:

* the teacher's forward alone: fp32, bf16 weights (`load_teacher(..., dtype=torch.bfloat16)`), fp32 under bf16 autocast;
* turning its logits into sparse targets: the previous `sparsify_logits` (a copy is kept below as `ref_sparsify_logits`)
  and the current one, for the CLI's temperature (T=2) and for T=(1, 2);
* `TeacherCache.fill` end to end (teacher + sparse targets + writing to disk) with the current and the old function;
* a GPT-2-Small-shaped random teacher (vocab 50,257): its forward and both sparse fills.

Each row shows seconds per batch and the ratio to the fp32 teacher forward; a sparse-target row also shows
"fill / forward" = (forward + sparse targets) / forward, the issue's bar (<= 1.25). The bf16 rows come with the error
of the teacher's distribution against fp32 on the same batch. Results go to benchmarks/results/fill.json.

    python benchmarks/bench_fill.py                 # 16 x 128, 5 interleaved repetitions
    python benchmarks/bench_fill.py --smoke         # tiny random teacher, one repetition: checks that it runs
"""
import argparse, math, os, shutil, statistics, sys, tempfile, time
from pathlib import Path
import numpy as np
import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel

import distill_edu.cache as dc
from distill_edu.sparse import sparsify_logits, _temperatures, _check_sizes
from distill_edu.cache import teacher_cache
from distill_edu.data import TokenWindows
from distill_edu.perf import machine, save_results

# --- the previous implementation, kept as the baseline (and as the reference of tests/test_fill.py) -----------------
def ref_systematic(tail, offsets, m):
    "The previous `_systematic`: full cumsum, normalised CDF, searchsorted."
    cdf = tail.cumsum(-1)
    total = cdf[:, -1:]
    ok = total > 0
    cdf = torch.where(ok, cdf / total.clamp_min(torch.finfo(cdf.dtype).tiny), torch.linspace(0, 1, tail.shape[-1] + 1, device=tail.device)[1:])
    u = (torch.arange(m, device=tail.device, dtype=cdf.dtype) + offsets[:, None].to(cdf.dtype)) / m
    return torch.searchsorted(cdf, u.contiguous(), right=True).clamp_max(tail.shape[-1] - 1)

def ref_sparsify_logits(logits, k=16, samples=92, temperatures=(2.0,), offsets=None):
    "The previous `sparsify_logits`: log_softmax of all rows, then per temperature softmax, scatter, cumsum."
    ts = _temperatures(temperatures)
    V = logits.shape[-1]
    _check_sizes(k, samples, V)
    lead = logits.shape[:-1]
    lp1 = torch.log_softmax(logits.detach().float().reshape(-1, V), -1)
    if offsets is None: offsets = torch.rand(lp1.shape[0])
    offsets = offsets.reshape(-1)
    head_v, head_i = lp1.topk(k, -1) if k else (lp1[:, :0], torch.zeros(lp1.shape[0], 0, dtype=torch.long))
    out = {"head_p": head_v.exp().half().reshape(*lead, k), "head_idx": head_i.reshape(*lead, k)}
    for T in ts:
        lpT = lp1 if T == 1 else torch.log_softmax(lp1 / T, -1)
        pT = lpT.exp()
        log_c = torch.zeros(lp1.shape[0]) if T == 1 else torch.logsumexp(lp1 / T, -1)
        negent = torch.where(pT > 0, pT * lpT, 0.).sum(-1)
        d = {"log_c": log_c.reshape(lead), "negentropy": negent.reshape(lead)}
        if samples:
            tail = pT.scatter(-1, head_i, 0.) if k else pT
            d["tail_idx"] = ref_systematic(tail, offsets, samples).reshape(*lead, samples)
        else: d["tail_idx"] = torch.zeros(*lead, 0, dtype=torch.long)
        out[T] = d
    return out
# ---------------------------------------------------------------------------------------------------------------

def windows(tok, B, S, smoke):
    "B windows of S tokens: real IMDB reviews when a local copy is found, else random tokens."
    from distill_edu.resources import imdb_path
    if tok is not None and not smoke and imdb_path() is not None:
        from distill_edu.data import read_reviews, token_stream
        stream = token_stream(read_reviews(imdb_path(), 400, seed=1), tok, progress=False)
        what = f"IMDB ({imdb_path().name})"
    else: stream, what = torch.randint(0, 1000, (B * S + 1,)).numpy(), "random tokens"
    w = TokenWindows(stream, S, stride=S, max_positions=None)
    idx = np.linspace(0, len(w) - 1, B).astype(int)
    return TokenWindows(torch.stack([w[int(i)] for i in idx]).reshape(-1), S, stride=S, max_positions=None), what

def teachers(smoke):
    "(fp32 teacher, bf16 teacher, tokenizer, description)."
    if smoke:
        torch.manual_seed(0)
        t = GPT2LMHeadModel(GPT2Config(vocab_size=4096, n_embd=32, n_layer=2, n_head=2, n_positions=32)).eval()
        tb = GPT2LMHeadModel(t.config).eval(); tb.load_state_dict(t.state_dict()); tb.to(torch.bfloat16)
        return t, tb, None, "SMOKE: tiny random GPT-2 (vocab 4,096)"
    from distill_edu.models import load_teacher, load_tokenizer
    return (load_teacher("smollm2-135m", device="cpu"), load_teacher("smollm2-135m", device="cpu", dtype=torch.bfloat16),
            load_tokenizer("smollm2-135m"), "SmolLM2-135M (bundled GGUF, converted), vocab 49,152")

def forward(model, x, autocast=False):
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        return model(x).logits.float()

def bf16_error(z32, z16, x):
    "How far the bf16 teacher's distribution is from the fp32 one on the same batch."
    out = {"max |Δlogit|": (z32 - z16).abs().max().item(), "top-1 agreement %": 100 * (z32.argmax(-1) == z16.argmax(-1)).float().mean().item()}
    # two students for a relative error of the KD loss: uniform (untrained) and "halfway" (teacher mixed with the batch unigram)
    V = z32.shape[-1]
    uni = torch.log(torch.bincount(x.reshape(-1), minlength=V).double() + 0.5); uni = uni - torch.logsumexp(uni, 0)
    for T in (1.0, 2.0):
        lp, lq = torch.log_softmax(z32.double() / T, -1), torch.log_softmax(z16.double() / T, -1)
        kl = (lp.exp() * (lp - lq)).sum(-1)
        out[f"KL(fp32‖bf16) T={T:g} nats/token"] = kl.mean().item()
        half = torch.logaddexp(lp, uni.expand_as(lp)) - math.log(2)
        for name, ls in (("uniform", torch.full_like(lp, -math.log(V))), ("halfway", half)):
            a, b = (lp.exp() * (lp - ls)).sum(-1).mean(), (lq.exp() * (lq - ls)).sum(-1).mean()
            out[f"KD loss rel. change T={T:g}, {name} student %"] = 100 * abs(b - a).item() / a.item()
    return out

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=16); p.add_argument("--seq", type=int, default=128)
    p.add_argument("--k", type=int, default=16); p.add_argument("--samples", type=int, default=92)
    p.add_argument("--repeat", type=int, default=5); p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--no-gpt2", action="store_true", help="skip the GPT-2-Small-shaped random teacher")
    p.add_argument("--smoke", action="store_true", help="tiny random teacher, batch 2 x 16, one repetition; writes nothing")
    a = p.parse_args(argv)
    if a.smoke: a.batch, a.seq, a.repeat, a.warmup, a.no_gpt2 = 2, 16, 1, 0, False
    t32, t16, tok, what = teachers(a.smoke)
    wins, data = windows(tok, a.batch, a.seq, a.smoke)
    x = torch.stack([wins[i] for i in range(len(wins))])
    z = forward(t32, x)
    off = torch.rand(x.shape, generator=torch.Generator().manual_seed(0))
    tmp = Path(tempfile.mkdtemp())
    def fill(fn, ts, rep):
        "TeacherCache.fill of the batch into a fresh folder, with `fn` as the sparse-target function."
        saved, dc.sparsify_logits = dc.sparsify_logits, fn
        try: teacher_cache(t32, wins, tmp/f"{fn.__name__}-{rep}", k=a.k, samples=a.samples, temperatures=ts).fill(wins, batch_size=a.batch, progress=False)
        finally: dc.sparsify_logits = saved; shutil.rmtree(tmp/f"{fn.__name__}-{rep}", ignore_errors=True)
    T_cli, T_both = (2.0,), (1.0, 2.0)
    V = {"teacher forward fp32": lambda r: forward(t32, x),
         "teacher forward bf16 weights": lambda r: forward(t16, x),
         "teacher forward fp32, bf16 autocast": lambda r: forward(t32, x, autocast=True)}
    for ts in (T_cli, T_both):
        tag = ",".join(f"{T:g}" for T in ts)
        V[f"sparse targets, old, T={tag}"] = lambda r, ts=ts: ref_sparsify_logits(z, a.k, a.samples, ts, off)
        V[f"sparse targets, new, T={tag}"] = lambda r, ts=ts: sparsify_logits(z, a.k, a.samples, ts, off)
    V["TeacherCache.fill, old, T=2 (teacher + targets + write)"] = lambda r: fill(ref_sparsify_logits, T_cli, r)
    V["TeacherCache.fill, new, T=2 (teacher + targets + write)"] = lambda r: fill(sparsify_logits, T_cli, r)
    if not a.no_gpt2:
        torch.manual_seed(0)
        g = GPT2LMHeadModel(GPT2Config(**(dict(vocab_size=50257, n_embd=768, n_layer=12, n_head=12, n_positions=1024) if not a.smoke
                                          else dict(vocab_size=5000, n_embd=32, n_layer=1, n_head=2, n_positions=32)))).eval()
        xg = torch.randint(0, g.config.vocab_size, x.shape); zg = forward(g, xg)
        V["GPT-2 Small shape: teacher forward fp32"] = lambda r: forward(g, xg)
        V["GPT-2 Small shape: sparse targets, old, T=2"] = lambda r: ref_sparsify_logits(zg, a.k, a.samples, T_cli, off)
        V["GPT-2 Small shape: sparse targets, new, T=2"] = lambda r: sparsify_logits(zg, a.k, a.samples, T_cli, off)
    loads, times = [os.getloadavg()], {n: [] for n in V}
    for rep in range(a.warmup + a.repeat):
        for n, f in V.items():
            t0 = time.perf_counter(); f(rep); dt = time.perf_counter() - t0
            if rep >= a.warmup: times[n].append(dt)
        loads.append(os.getloadavg())
        print(f"# repetition {rep + 1}/{a.warmup + a.repeat} done, load average {loads[-1][0]:.2f}", file=sys.stderr)
    med = {n: statistics.median(t) for n, t in times.items()}
    base = {"": med["teacher forward fp32"], "GPT-2": med.get("GPT-2 Small shape: teacher forward fp32")}
    rows = []
    for n, s in med.items():
        b = base["GPT-2"] if n.startswith("GPT-2") else base[""]
        row = {"variant": n, "s_per_batch": s, "x teacher forward": s / b,
               "fill / forward": (b + s) / b if "sparse targets" in n else (s / b if "fill" in n else float("nan")), "times": times[n]}
        rows.append(row)
    err = bf16_error(z, forward(t16, x), x)
    err_ac = bf16_error(z, forward(t32, x, autocast=True), x)
    header = dict(machine=machine(), teacher=what, data=data, batch=f"{a.batch} x {a.seq}", k=a.k, samples=a.samples,
                  repeat=a.repeat, warmup=a.warmup,
                  load_average=f"1-min load average {min(l[0] for l in loads):.2f}–{max(l[0] for l in loads):.2f} during the run "
                               f"(2 cores shared with other work: the ratios within this run are what counts)",
                  bf16_weights_error=err, bf16_autocast_error=err_ac,
                  note="median of `repeat` interleaved repetitions after `warmup`; 'x teacher forward' divides by the fp32 forward "
                       "of the same teacher; 'fill / forward' = (forward + sparse targets) / forward for the target rows and "
                       "TeacherCache.fill / forward for the fill rows (the issue's bar: <= 1.25)")
    print(f"# bench_fill — {what}, {data}, batch {a.batch} x {a.seq}, k={a.k}, samples={a.samples}\n# {header['machine']}\n# {header['load_average']}")
    print(f"\n| variant | s/batch | x teacher forward | fill / forward |\n|---|---|---|---|")
    for r in rows: print(f"| {r['variant']} | {r['s_per_batch']:.3g} | {r['x teacher forward']:.3g} | "
                         f"{'' if r['fill / forward'] != r['fill / forward'] else format(r['fill / forward'], '.3g')} |")
    for name, e in (("bf16 weights", err), ("fp32 weights, bf16 autocast", err_ac)):
        print(f"\n{name} vs fp32 on this batch: " + "; ".join(f"{k} {v:.3g}" for k, v in e.items()))
    shutil.rmtree(tmp, ignore_errors=True)
    if not a.smoke: print("\nwrote", save_results("fill", rows, **header))

if __name__ == "__main__":
    sys.exit(main())
