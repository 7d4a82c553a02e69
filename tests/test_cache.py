"Cross-cutting checks of the teacher-logit cache: it drives the trainer like a live teacher does."
import math, numpy as np, pytest, torch
from conftest import tiny_gpt2
from distill_edu.cache import teacher_cache, TeacherCache
from distill_edu.criteria import SparseKDCriterion
from distill_edu.sparse import sparsify_logits, sparse_targets, sparse_kd_loss, sparse_error, sparse_bytes_per_token
from distill_edu.data import TokenWindows
from distill_edu.losses import kld_loss
from distill_edu.targets import LiveTeacher
from distill_edu.criteria import DistillCriterion
from distill_edu.train import make_loader, train_epoch, make_optimizer, distill

V = 61

def tiny(seed, n_positions=16): return tiny_gpt2(seed, n_positions=n_positions, vocab=V).eval()

@pytest.fixture
def setup(tmp_path):
    torch.manual_seed(0)
    wins = TokenWindows(torch.randint(0, V, (400,)), max_length=16, stride=8, max_positions=None)
    return tiny(1), wins, tmp_path

def run_epoch(source, criterion, wins, steps=4):
    student = tiny(2)
    opt = make_optimizer(student, lr=1e-3)
    loader = make_loader(wins, batch_size=4, seed=3)
    recs = []
    def stop(r): recs.append(r); return len(recs) >= steps
    train_epoch(loader, source, student, criterion, opt, clip=1.0, on_step=stop, progress=False)
    return [r["loss"] for r in recs], student

def test_exact_cache_matches_live_teacher(setup):
    teacher, wins, tmp = setup
    live, _ = run_epoch(LiveTeacher(teacher), DistillCriterion(0.5, "kld", 2.0), wins)
    cache = teacher_cache(teacher, wins, tmp/"exact", mode="exact")
    first, _ = run_epoch(cache, DistillCriterion(0.5, "kld", 2.0), wins)   # fills lazily
    again, _ = run_epoch(TeacherCache(tmp/"exact"), DistillCriterion(0.5, "kld", 2.0), wins)  # reads, no teacher
    np.testing.assert_allclose(first, live, rtol=2e-3)   # fp16 logits
    np.testing.assert_equal(first, again)

def test_sparse_cache_with_whole_vocab_matches_exact_kd(setup):
    "k = V keeps every token: the sparse criterion must then train exactly like the exact one."
    teacher, wins, tmp = setup
    live, s1 = run_epoch(LiveTeacher(teacher), DistillCriterion(0.3, "kld", 2.0), wins)
    cache = teacher_cache(teacher, wins, tmp/"sparse", k=V, samples=4, temperatures=(2.0,)).fill(wins, progress=False)
    sparse, s2 = run_epoch(cache, SparseKDCriterion(0.3, "kld", 2.0), wins)
    np.testing.assert_allclose(sparse, live, rtol=2e-3)
    for a, b in zip(s1.parameters(), s2.parameters()): torch.testing.assert_close(a, b, atol=2e-4, rtol=0)

def test_sparse_cache_in_distill(setup):
    teacher, wins, tmp = setup
    cache = teacher_cache(teacher, wins, tmp/"c", k=4, samples=8, temperatures=(1.0,))
    res = distill(tiny(2), cache, wins, criterion=SparseKDCriterion(0.5, "kld", 1.0), batch_size=4, max_steps=3,
                  device="cpu", progress=False, log=None)
    assert len(res.history) == 3 and np.isfinite(res.history["loss"]).all()
    assert cache.n_done == 12        # 3 steps x 4 windows, filled on first use
    with pytest.raises(ValueError, match="cached for temperatures"):
        distill(tiny(2), cache, wins, criterion=SparseKDCriterion(0.5, "kld", 2.0), batch_size=4, max_steps=1, device="cpu",
                progress=False, log=None)

def test_fill_resumes_and_checks_disk(setup):
    teacher, wins, tmp = setup
    c = teacher_cache(teacher, wins, tmp/"r", k=4, samples=4, temperatures=(2.0,))
    c.fill(wins, indices=range(10), progress=False)
    assert c.n_done == 10
    snapshot = np.array(c._arrays["head_p"][:10])
    c2 = teacher_cache(teacher, wins, tmp/"r", k=4, samples=4, temperatures=(2.0,)).fill(wins, progress=False)
    assert c2.n_done == len(wins)
    np.testing.assert_array_equal(c2._arrays["head_p"][:10], snapshot)   # done windows are not recomputed

def test_bad_inputs(setup):
    teacher, wins, tmp = setup
    c = teacher_cache(teacher, wins, tmp/"b", k=4, samples=4)
    x = torch.stack([wins[0], wins[1]])
    with pytest.raises(IndexError, match="out of range"): c(x, torch.tensor([0, len(wins)]))
    with pytest.raises(ValueError, match="window indices"): c(x, None)
    with pytest.raises(ValueError, match="shape"): c(x[:, :8], torch.tensor([0, 1]))
    with pytest.raises(FileNotFoundError, match="no teacher cache"): TeacherCache(tmp/"nothing")
    with pytest.raises(ValueError, match="dtype"): teacher_cache(teacher, wins, tmp/"e", mode="exact", dtype="int8")
    with pytest.raises(ValueError, match="k \\(the number"): teacher_cache(teacher, wins, tmp/"e", k=-1)
    with pytest.raises(ValueError, match="windows differ"):
        other = TokenWindows(torch.randint(0, V, (400,)), max_length=16, stride=8, max_positions=None)
        c.fill(other, progress=False)

def test_bf16_exact_round_trip(setup):
    teacher, wins, tmp = setup
    c = teacher_cache(teacher, wins, tmp/"bf", mode="exact", dtype="bfloat16")
    x, idx = torch.stack([wins[2], wins[5]]), torch.tensor([2, 5])
    got = c(x, idx).logits
    assert got.dtype == torch.bfloat16
    with torch.no_grad(): want = teacher(x).logits.to(torch.bfloat16)
    torch.testing.assert_close(got, want, atol=0, rtol=0)

def fp16_storage_bound_pct(zt, zs, T):
    """Bound (in % of the exact KL) on the error of the sparse KL with k = V: only the fp16 storage of p is left.
    Each stored probability is off by at most u16 = 2^-11 relative (2^-25 absolute below fp16's normal range, all of it
    when it flushes to 0), and so is p_T = p^(1/T)/c_T. That moves the head terms by ≤ Σ p_T·r·(|log p_T/q_T| + 1), and
    leaves a rest mass p_r ≤ Σ p_T·r (+ float32 rounding of 1 - Σp, V·2^-24) whose term p_r·log(p_r/q_r) is at most
    p_r·log(1e30) (the loss clamps q_r at 1e-30, and with k = V q_r is float32 rounding noise). Computed in float64."""
    p1, pT = torch.softmax(zt.double(), -1), torch.softmax(zt.double() / T, -1)
    lqT = torch.log_softmax(zs.double() / T, -1)
    r = torch.maximum(torch.full_like(p1, 2.0**-11), 2.0**-25 / p1).clamp_max(1)
    head = (pT * r * ((pT.log() - lqT).abs() + 1)).sum(-1)
    rest = ((pT * r).sum(-1) + zt.shape[-1] * 2.0**-24) * math.log(1e30)
    exact = (pT * (pT.log() - lqT)).sum(-1)
    return 100 * ((head + rest).mean() / exact.mean()).item()

def test_sparse_error_reports_the_rest_bucket_bias():
    torch.manual_seed(0)
    zt, zs = torch.randn(2, 8, 200) * 3, torch.randn(2, 8, 200)
    rest = sparse_error(zt, zs, k=10, samples=0, temperature=2.0)
    assert rest["KL sparse"] < rest["KL exact"]                       # the log-sum inequality
    whole = sparse_error(zt, zs, k=200, samples=0, temperature=2.0)
    assert abs(whole["rel. error of mean %"]) <= fp16_storage_bound_pct(zt, zs, 2.0) and whole["grad cosine"] > 0.9999
    assert sparse_bytes_per_token(16, 92) == 256

@pytest.mark.slow
def test_real_teacher_sparse_error_within_two_percent():
    "On SmolLM2 logits over IMDB windows, the default sparse cache (256 B/token) keeps the KL within 2 %."
    from distill_edu.resources import imdb_path
    from distill_edu.models import load_teacher, load_tokenizer, make_student
    from distill_edu.data import read_reviews, token_stream
    src = imdb_path()
    if src is None or not src.exists(): pytest.skip("../shared/data/imdb is not here")
    tok = load_tokenizer("smollm2-135m"); teacher = load_teacher("smollm2-135m", device="cpu")
    wins = TokenWindows(token_stream(read_reviews(src, 200, seed=1), tok, cache=False, progress=False), 128)
    x = torch.stack([wins[i] for i in range(0, 40, 10)])
    with torch.no_grad():
        zt = teacher(x).logits
        zs = make_student(tok, seed=0)(x).logits
    for T in (1.0, 2.0):
        r = sparse_error(zt, zs, 16, 92, T)
        assert r["bytes/token"] == 256 and abs(r["rel. error of mean %"]) <= 2.0, r
