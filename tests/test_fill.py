"The fast `sparsify_logits` gives the same sparse targets as the previous implementation (kept in benchmarks/bench_fill.py)."
import importlib.util, math
from pathlib import Path
import pytest, torch
from distill_edu.sparse import sparsify_logits

_spec = importlib.util.spec_from_file_location("bench_fill", Path(__file__).parents[1]/"benchmarks"/"bench_fill.py")
bench_fill = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(bench_fill)
ref_sparsify_logits = bench_fill.ref_sparsify_logits
EPS32 = torch.finfo(torch.float32).eps

def logits(N, V, seed, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(N, V, generator=g) * scale, torch.rand(N, generator=g)

def exact_tail(z, head_idx, T, offsets, m):
    "Float64 truth: the normalised tail CDF, the sample points, the exact sample indices, and the float32 CDF's rounding error per row."
    w64 = torch.softmax(z.double() / T, -1).scatter(-1, head_idx, 0.)
    cdf64 = w64.cumsum(-1) / w64.sum(-1, keepdim=True)
    pts = (torch.arange(m, dtype=torch.float64) + offsets.double()[:, None]) / m
    idx = torch.searchsorted(cdf64, pts, right=True).clamp_max(z.shape[-1] - 1)
    w32 = torch.softmax(z / T, -1).scatter(-1, head_idx, 0.)
    c32 = w32.cumsum(-1); c32 = c32 / c32[:, -1:]
    return cdf64, pts, idx, (c32.double() - cdf64).abs().amax(-1)

def near_boundary(cdf64, pts, err):
    "Sample points within the float32 rounding of a CDF boundary, where float32 code may pick the neighbouring token."
    # tolerance: 4x this row's measured float32 CDF error (two implementations summing in different orders, each
    # off by at most that much, plus the rounding of the sample points themselves) + 4 eps for the points' own rounding
    tol = (4 * err + 4 * EPS32)[:, None]
    j = torch.searchsorted(cdf64, pts).clamp_max(cdf64.shape[-1] - 1)
    lo = cdf64.gather(-1, (j - 1).clamp_min(0)); hi = cdf64.gather(-1, j)
    return ((pts - lo).abs() <= tol) | ((hi - pts).abs() <= tol)

@pytest.mark.parametrize("N,V,k,m,ts,chunk", [(256, 3000, 16, 92, (1.0, 2.0), 7), (256, 3000, 16, 92, (2.0, 1.0), None),
                                              (128, 1000, 4, 30, (0.5, 3.0), 1000), (64, 500, 0, 30, (1.0,), 3)])
def test_same_targets_as_before(N, V, k, m, ts, chunk):
    z, off = logits(N, V, seed=V + k)
    new, old = sparsify_logits(z, k, m, ts, off, chunk=chunk), ref_sparsify_logits(z, k, m, ts, off)
    assert torch.equal(new["head_idx"], old["head_idx"])       # topk of the logits = topk of their log_softmax
    torch.testing.assert_close(new["head_p"].float(), old["head_p"].float(), rtol=2**-10, atol=0)   # at most 1 fp16 ulp
    for T in ts:
        lp = torch.log_softmax(z.double() / T, -1)
        want = {"negentropy": (lp.exp() * lp).sum(-1),
                "log_c": torch.logsumexp(torch.log_softmax(z.double(), -1) / T, -1)}
        for name, x in want.items():
            # float32 sums of V terms: each off by at most V eps times the terms' magnitude (|log p| ≤ its max)
            tol = V * EPS32 * (1 + lp.abs().amax(-1) if name == "negentropy" else 1 + x.abs())
            assert ((new[T][name].double() - x).abs() <= tol).all(), (T, name)
            assert ((old[T][name].double() - x).abs() <= tol).all(), (T, name)
        cdf64, pts, exact, err = exact_tail(z, new["head_idx"], T, off, m)
        unsure = near_boundary(cdf64, pts, err)
        assert unsure.float().mean() < 0.01                      # the exception is rare: the comparison below has teeth
        for got in (new[T]["tail_idx"], old[T]["tail_idx"]):
            assert ((got == exact) | unsure).all(), T            # every sample is the exact one unless it sits on a boundary
        assert not (new[T]["tail_idx"][:, :, None] == new["head_idx"][:, None, :]).any()

def test_inf_logits_and_empty_tail():
    z, off = logits(32, 200, seed=1)
    z[:, 150:] = -math.inf                                        # a masked vocabulary
    new, old = sparsify_logits(z, 8, 16, (1.0, 2.0), off, chunk=5), ref_sparsify_logits(z, 8, 16, (1.0, 2.0), off)
    for T in (1.0, 2.0):
        assert torch.isfinite(new[T]["negentropy"]).all() and (new[T]["tail_idx"] < 150).all()
        torch.testing.assert_close(new[T]["negentropy"], old[T]["negentropy"], atol=200 * EPS32 * 30, rtol=0)
    # k = V: no tail mass left, so both fall back to a uniform grid over the vocabulary: identical indices
    z, off = logits(8, 40, seed=2)
    new, old = sparsify_logits(z, 40, 6, (2.0,), off), ref_sparsify_logits(z, 40, 6, (2.0,), off)
    assert torch.equal(new[2.0]["tail_idx"], old[2.0]["tail_idx"])

def test_shapes_dtypes_and_low_precision_input():
    z, off = logits(2 * 3 * 5, 300, seed=3)
    z = z.reshape(2, 3, 5, 300); off = off.reshape(2, 3, 5)
    for k, m in ((6, 0), (0, 9), (6, 9)):
        new, old = sparsify_logits(z, k, m, (2.0,), off), ref_sparsify_logits(z, k, m, (2.0,), off)
        for key in ("head_p", "head_idx"): assert new[key].shape == old[key].shape and new[key].dtype == old[key].dtype
        for key in ("log_c", "negentropy", "tail_idx"):
            assert new[2.0][key].shape == old[2.0][key].shape and new[2.0][key].dtype == old[2.0][key].dtype
    zb = z.bfloat16()   # a bf16 teacher's logits: converted chunk by chunk, same as converting first
    a, b = sparsify_logits(zb, 6, 9, (2.0,), off, chunk=4), sparsify_logits(zb.float(), 6, 9, (2.0,), off, chunk=4)
    assert torch.equal(a["head_idx"], b["head_idx"]) and torch.equal(a[2.0]["tail_idx"], b[2.0]["tail_idx"])

def test_thread_count_restored():
    "The fill runs its small chunks on one thread and gives the process its threads back, also after an error."
    n = torch.get_num_threads()
    sparsify_logits(torch.randn(4, 50), 3, 5)
    with pytest.raises(RuntimeError): sparsify_logits(torch.randn(4, 50), 3, 5, offsets=torch.rand(2))   # too few offsets: fails inside the loop
    assert torch.get_num_threads() == n
