"Property and edge-case tests for distill_edu.losses (issue 3)."
import math
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st, HealthCheck
from distill_edu.core import softmax_t
from distill_edu.losses import (kld_loss, mse_logit_loss, reverse_kld_loss, jsd_loss, balanced_loss, soft_loss,
                                SOFT_LOSSES, hard_loss)

SETTINGS = dict(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

@st.composite
def logit_pairs(draw, max_b=3, max_s=4, max_v=9, scale=20.0):
    "Two random (B, S, V) logit tensors from a drawn seed and shape."
    b, s, v = draw(st.integers(1, max_b)), draw(st.integers(1, max_s)), draw(st.integers(2, max_v))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    sc = draw(st.floats(0.01, scale))
    return torch.randn(b, s, v, generator=g, dtype=torch.float64) * sc, torch.randn(b, s, v, generator=g, dtype=torch.float64) * sc

temps = st.floats(0.05, 20.0)

def masks(shape, seed):
    g = torch.Generator().manual_seed(seed)
    m = torch.rand(shape, generator=g) < 0.6
    m.view(-1)[0] = True  # at least one counted position
    return m

def ref_kl(s, t, T):
    "Per-position T^2 KL(p||q) written out from the definition, sum_v p_v (log p_v - log q_v)."
    # the logs come from log_softmax: at small T a probability can underflow to 0 (or its log to -inf) in float64,
    # which would make p.log() - q.log() inf or nan where the true term is p_v * finite = 0
    p = softmax_t(t, T)
    log_p, log_q = F.log_softmax(t / T, -1), F.log_softmax(s / T, -1)
    return T * T * (p * (log_p - log_q)).sum(-1)

# ---- KL >= 0 and KL = 0 exactly for constant shifts --------------------------------------------
@given(logit_pairs(), temps)
@settings(**SETTINGS)
def test_kl_nonnegative(pair, T):
    s, t = pair
    for f in (kld_loss, reverse_kld_loss, jsd_loss):
        assert f(s, t, T) >= 0
    assert kld_loss(s, t, T, reduction="batchmean") >= 0

@given(logit_pairs(), temps, st.floats(-1e3, 1e3))
@settings(**SETTINGS)
def test_kl_zero_iff_rows_differ_by_constant(pair, T, c):
    s, t = pair
    shift = torch.randn(s.shape[:-1] + (1,), dtype=s.dtype) * c  # a different constant per position
    assert kld_loss(t + shift, t, T).abs() < 1e-9 * max(1.0, abs(c))

@given(logit_pairs(scale=3.0), st.floats(1.0, 20.0), st.floats(0.1, 5.0))
@settings(**SETTINGS)
def test_kl_positive_when_not_a_constant_shift(pair, T, d):
    "Rows that differ by more than a constant give KL > 0 (logits kept unsaturated so rounding cannot hide it)."
    _, t = pair
    s = t.clone(); s[..., 0] += d
    assert kld_loss(s, t, T) > 0 and reverse_kld_loss(s, t, T) > 0 and jsd_loss(s, t, T) > 0

@given(logit_pairs(), temps)
@settings(**SETTINGS)
def test_kld_matches_definition(pair, T):
    s, t = pair
    torch.testing.assert_close(kld_loss(s, t, T), ref_kl(s, t, T).mean())
    torch.testing.assert_close(kld_loss(s, t, T, reduction="batchmean"), ref_kl(s, t, T).sum() / s.shape[0])
    ref = F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1), reduction="batchmean") * T * T
    torch.testing.assert_close(kld_loss(s, t, T, reduction="batchmean"), ref)

# ---- gradient formula: dL/dz_s = T (q - p) / n_positions, masked positions zero ----------------
@given(logit_pairs(), temps, st.integers(0, 10**6), st.booleans())
@settings(**SETTINGS)
def test_kl_gradient_formula(pair, T, seed, use_mask):
    s, t = pair
    s = s.clone().requires_grad_()
    mask = masks(s.shape[:-1], seed) if use_mask else None
    kld_loss(s, t, T, mask=mask).backward()
    p, q = softmax_t(t, T), softmax_t(s.detach(), T)
    n = s.shape[0] * s.shape[1] if mask is None else int(mask.sum())
    expected = T * (q - p) / n
    if mask is not None: expected = expected * mask[..., None]
    torch.testing.assert_close(s.grad, expected)
    if mask is not None: assert (s.grad[~mask] == 0).all()

def test_masked_positions_zero_grad_even_with_nan_padding():
    s = torch.randn(2, 3, 7, requires_grad=True)
    t = torch.randn(2, 3, 7)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]], dtype=torch.bool)
    t_pad = torch.where(mask[..., None], t, torch.full_like(t, float("inf")))
    for name in SOFT_LOSSES:
        s.grad = None
        s_pad = torch.where(mask[..., None], s, torch.full_like(s, float("nan")))
        loss = soft_loss(name, s_pad, t_pad, 2.0, mask)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(s.grad).all(), name
        assert (s.grad[~mask] == 0).all(), name
        ref = soft_loss(name, s[mask][None], t[mask][None], 2.0)
        torch.testing.assert_close(loss, ref)

# ---- MSE ---------------------------------------------------------------------------------------
@given(logit_pairs(scale=1e3))
@settings(**SETTINGS)
def test_mse_equals_F_mse_loss(pair):
    s, t = pair
    torch.testing.assert_close(mse_logit_loss(s, t), F.mse_loss(s, t))

@given(logit_pairs(), st.integers(0, 10**6))
@settings(**SETTINGS)
def test_mse_mask_averages_counted_positions(pair, seed):
    s, t = pair
    mask = masks(s.shape[:-1], seed)
    torch.testing.assert_close(mse_logit_loss(s, t, mask), F.mse_loss(s[mask], t[mask]))

def test_mse_not_shift_invariant_but_kl_is():
    t = torch.randn(1, 1, 10)
    # KL's shift invariance is exact: float64, where T²·V·eps64·max|z/T| ≈ 1e-13 bounds the rounding (T = 2, V = 10)
    assert kld_loss(t.double() + 5.0, t.double()) <= 4 * 10 * torch.finfo(torch.float64).eps * (t.abs().max() + 5) / 2
    torch.testing.assert_close(mse_logit_loss(t + 5.0, t), torch.tensor(25.0))

# ---- reverse KL and JSD ------------------------------------------------------------------------
def trl_generalized_jsd(s, t, beta, T):
    "TRL GKDTrainer.generalized_jsd_loss per position (written here independently), times T^2."
    ls, lt = F.log_softmax(s / T, -1), F.log_softmax(t / T, -1)
    if beta == 0: j = F.kl_div(ls, lt, reduction="none", log_target=True)
    elif beta == 1: j = F.kl_div(lt, ls, reduction="none", log_target=True)
    else:
        b = torch.tensor(beta, dtype=ls.dtype)
        lm = torch.logsumexp(torch.stack([ls + torch.log(1 - b), lt + torch.log(b)]), dim=0)
        j = b * F.kl_div(lm, lt, reduction="none", log_target=True) + (1 - b) * F.kl_div(lm, ls, reduction="none", log_target=True)
    return T * T * j.sum(-1).mean()

@given(logit_pairs(), temps, st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]))
@settings(**SETTINGS)
def test_jsd_matches_trl(pair, T, beta):
    s, t = pair
    torch.testing.assert_close(jsd_loss(s, t, T, beta=beta), trl_generalized_jsd(s, t, beta, T))

@given(logit_pairs(), temps)
@settings(**SETTINGS)
def test_jsd_endpoints(pair, T):
    s, t = pair
    torch.testing.assert_close(jsd_loss(s, t, T, beta=0), kld_loss(s, t, T))
    torch.testing.assert_close(jsd_loss(s, t, T, beta=1), reverse_kld_loss(s, t, T))
    torch.testing.assert_close(reverse_kld_loss(s, t, T), kld_loss(t, s, T))

# ---- balanced loss -----------------------------------------------------------------------------
@given(logit_pairs(), st.floats(0, 1), temps, st.sampled_from(SOFT_LOSSES))
@settings(**SETTINGS)
def test_balanced_is_convex_mix(pair, alpha, T, name):
    s, t = pair
    hard = torch.tensor(2.5, dtype=s.dtype)
    expected = alpha * hard + (1 - alpha) * soft_loss(name, s, t, T)
    torch.testing.assert_close(balanced_loss(hard, s, t, name, alpha, T), expected)

def test_balanced_endpoints():
    s, t = torch.randn(2, 3, 5), torch.randn(2, 3, 5)
    hard = torch.tensor(4.0)
    torch.testing.assert_close(balanced_loss(hard, s, t, alpha=1.0), hard)
    torch.testing.assert_close(balanced_loss(hard, s, t, alpha=0.0, temperature=3.0), kld_loss(s, t, 3.0))
    # the argument order is (hard, teacher, student): swapping them changes forward KL
    assert not torch.allclose(balanced_loss(hard, t, s, alpha=0.0), balanced_loss(hard, s, t, alpha=0.0))

def test_balanced_gradient_reaches_student():
    s, t = torch.randn(2, 3, 5, requires_grad=True), torch.randn(2, 3, 5)
    hard = F.cross_entropy(s.reshape(-1, 5), torch.randint(0, 5, (6,)))
    balanced_loss(hard, s, t, "jsd", 0.3).backward()
    assert torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0

# ---- bad input: ValueError naming the bad value -----------------------------------------------
S, T_ = torch.randn(2, 3, 5), torch.randn(2, 3, 5)

@pytest.mark.parametrize("temperature", [0, 0.0, -1.0, -0.5, float("nan"), float("inf"), "warm"])
@pytest.mark.parametrize("name", SOFT_LOSSES)
def test_bad_temperature(temperature, name):
    with pytest.raises(ValueError, match="temperature") as e: soft_loss(name, S, T_, temperature)
    assert repr(temperature) in str(e.value)
    with pytest.raises(ValueError, match="temperature"): balanced_loss(1.0, S, T_, name, 0.5, temperature)

@pytest.mark.parametrize("temperature", [0, -2.0])
def test_bad_temperature_each_function(temperature):
    for f in (kld_loss, reverse_kld_loss, jsd_loss):
        with pytest.raises(ValueError, match=repr(temperature)): f(S, T_, temperature)

@pytest.mark.parametrize("alpha", [-0.1, 1.01, 2, float("nan"), "half"])
def test_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha") as e: balanced_loss(1.0, S, T_, "kld", alpha)
    assert repr(alpha) in str(e.value)

@pytest.mark.parametrize("name", ["kl", "KLD", "mse ", "js", "", None])
def test_unknown_soft_loss_name(name):
    with pytest.raises(ValueError, match="unknown soft loss") as e: balanced_loss(1.0, S, T_, name)
    assert repr(name) in str(e.value) and "'kld'" in str(e.value)
    with pytest.raises(ValueError, match="unknown soft loss"): soft_loss(name, S, T_)

@pytest.mark.parametrize("other", [(2, 3, 6), (2, 4, 5), (3, 3, 5), (2, 15)])
@pytest.mark.parametrize("name", SOFT_LOSSES)
def test_shape_mismatch_names_both(other, name):
    with pytest.raises(ValueError) as e: soft_loss(name, S, torch.randn(other))
    assert str(tuple(S.shape)) in str(e.value) and str(other) in str(e.value)
    with pytest.raises(ValueError): balanced_loss(1.0, S, torch.randn(other), name, alpha=1.0)

@pytest.mark.parametrize("mask", [torch.ones(2, 4), torch.ones(3, 3), torch.ones(2, 3, 5), torch.ones(6)])
@pytest.mark.parametrize("name", SOFT_LOSSES)
def test_mask_mismatch(mask, name):
    with pytest.raises(ValueError, match="mask") as e: soft_loss(name, S, T_, 2.0, mask)
    assert str(tuple(mask.shape)) in str(e.value) and "(2, 3)" in str(e.value)

def test_mask_non_binary_and_bad_reduction_and_beta():
    with pytest.raises(ValueError, match="0 and 1"): kld_loss(S, T_, mask=torch.full((2, 3), 0.5))
    with pytest.raises(ValueError, match="'mean'"): kld_loss(S, T_, reduction="mean")
    with pytest.raises(ValueError, match="1.5"): jsd_loss(S, T_, beta=1.5)
    with pytest.raises(ValueError, match="-0.1"): balanced_loss(1.0, S, T_, "jsd", beta=-0.1)

def test_mask_01_equals_bool():
    m = torch.tensor([[1, 0, 1], [0, 1, 1]])
    for name in SOFT_LOSSES:
        torch.testing.assert_close(soft_loss(name, S, T_, 2.0, m), soft_loss(name, S, T_, 2.0, m.bool()))

# ---- numerical stability -----------------------------------------------------------------------
@pytest.mark.parametrize("name", SOFT_LOSSES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("T", [0.1, 1.0, 2.0, 20.0])
def test_large_logits_finite(name, dtype, T):
    g = torch.Generator().manual_seed(0)
    s = (torch.randn(2, 3, 11, generator=g).sign() * 1e4).to(dtype).requires_grad_()
    t = (torch.randn(2, 3, 11, generator=g).sign() * 1e4).to(dtype)
    loss = soft_loss(name, s, t, T, torch.tensor([[1, 1, 0], [1, 1, 1]]))
    loss.backward()
    assert loss.dtype == torch.float32
    assert torch.isfinite(loss) and torch.isfinite(s.grad.float()).all()

@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", SOFT_LOSSES)
def test_half_inputs_computed_in_fp32(dtype, name):
    g = torch.Generator().manual_seed(1)
    s, t = torch.randn(2, 4, 300, generator=g) * 5, torch.randn(2, 4, 300, generator=g) * 5
    sh, th = s.to(dtype), t.to(dtype)
    # same value as the fp32 computation on the (rounded) half inputs: no half-precision arithmetic inside
    torch.testing.assert_close(soft_loss(name, sh, th, 2.0), soft_loss(name, sh.float(), th.float(), 2.0))

@pytest.mark.parametrize("name", SOFT_LOSSES)
def test_minus_inf_at_masked_vocab_entries(name):
    g = torch.Generator().manual_seed(2)
    s, t = torch.randn(2, 3, 8, generator=g), torch.randn(2, 3, 8, generator=g)
    vocab_ok = torch.tensor([True] * 6 + [False] * 2)
    s_inf = s.masked_fill(~vocab_ok, float("-inf")).requires_grad_()
    t_inf = t.masked_fill(~vocab_ok, float("-inf"))
    loss = soft_loss(name, s_inf, t_inf, 2.0)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(s_inf.grad).all()
    assert (s_inf.grad[..., ~vocab_ok] == 0).all()
    if name != "mse":  # removing impossible tokens does not change a divergence
        torch.testing.assert_close(loss, soft_loss(name, s[..., :6], t[..., :6], 2.0))
    else:  # MSE counts the (equal) -inf entries as zero difference over the full vocabulary
        torch.testing.assert_close(loss, F.mse_loss(s[..., :6], t[..., :6]) * 6 / 8)

def test_teacher_only_minus_inf():
    "The teacher rules tokens out, the student does not: p = 0 there, forward KL stays finite."
    s = torch.randn(1, 2, 6, requires_grad=True)
    t = torch.randn(1, 2, 6); t[..., :2] = float("-inf")
    loss = kld_loss(s, t); loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(s.grad).all()

# ---- reductions --------------------------------------------------------------------------------
def test_batchmean_grows_with_sequence_length_token_does_not():
    g = torch.Generator().manual_seed(3)
    s, t = torch.randn(4, 64, 50, generator=g), torch.randn(4, 64, 50, generator=g)
    tok = [kld_loss(s[:, :n], t[:, :n]).item() for n in (8, 16, 32, 64)]
    bm = [kld_loss(s[:, :n], t[:, :n], reduction="batchmean").item() for n in (8, 16, 32, 64)]
    assert all(b2 > 1.8 * b1 for b1, b2 in zip(bm, bm[1:]))  # roughly doubles with the length
    assert max(tok) / min(tok) < 1.2  # per-token mean stays put
    for n, b, k in zip((8, 16, 32, 64), bm, tok): assert math.isclose(b, k * n, rel_tol=1e-5)

def test_all_positions_masked_gives_zero():
    loss = kld_loss(S, T_, mask=torch.zeros(2, 3, dtype=torch.bool))
    assert loss == 0

# ---- which positions count under a padding mask (issue 16: the conventions table of the losses lesson) ----------
def _kl_at(s, t, T):
    "T² KL(softmax(t/T) || softmax(s/T)) of one position, written out."
    logp, logq = torch.log_softmax(t / T, -1), torch.log_softmax(s / T, -1)
    return T * T * (logp.exp() * (logp - logq)).sum()

def test_padded_batch_positions_that_count():
    """distill_edu's convention, decided deliberately: the soft term counts the S positions t with mask[t] (the teacher's
    prediction at the last real position needs no label), the hard term the S - 1 positions with mask[t+1] (the
    references -- TRL, torchtune, Liger -- count only those for both). Padding holds nan: it must not leak."""
    g = torch.Generator().manual_seed(16)
    B, S, V, T = 3, 6, 11, 2.0
    zs, zt = torch.randn(B, S, V, generator=g, dtype=torch.float64), torch.randn(B, S, V, generator=g, dtype=torch.float64)
    ids = torch.randint(0, V, (B, S), generator=g)
    lengths = [6, 4, 1]                                             # a full row, a padded row, a row with one real token
    real = torch.arange(S)[None] < torch.tensor(lengths)[:, None]
    zs[~real], zt[~real] = float("nan"), float("nan")
    soft_pos = [(b, t) for b in range(B) for t in range(lengths[b])]                  # mask[t]
    hard_pos = [(b, t) for b in range(B) for t in range(lengths[b] - 1)]              # mask[t+1]
    assert (len(soft_pos), len(hard_pos)) == (sum(lengths), sum(lengths) - B)          # 11 soft, 8 hard positions
    tol = 64 * V * torch.finfo(torch.float64).eps                                     # float64 sums of V-term softmaxes
    want_soft = torch.stack([_kl_at(zs[b, t], zt[b, t], T) for b, t in soft_pos]).mean()
    assert math.isclose(kld_loss(zs, zt, T, real).item(), want_soft.item(), rel_tol=tol, abs_tol=tol)
    want_hard = torch.stack([-torch.log_softmax(zs[b, t], -1)[ids[b, t + 1]] for b, t in hard_pos]).mean()
    # hard_loss works in fp32: relative error ≤ a few V·eps32
    assert math.isclose(hard_loss(zs, ids, real).item(), want_hard.item(), rel_tol=8 * V * torch.finfo(torch.float32).eps)
    # the references' positions: the soft term masked with mask[t+1] gives their count and their mean
    label_mask = torch.zeros_like(real); label_mask[:, :-1] = real[:, 1:]
    want_ref = torch.stack([_kl_at(zs[b, t], zt[b, t], T) for b, t in hard_pos]).mean()
    assert math.isclose(kld_loss(zs, zt, T, label_mask).item(), want_ref.item(), rel_tol=tol, abs_tol=tol)
    assert not math.isclose(want_soft.item(), want_ref.item(), rel_tol=1e-3)          # the convention changes the number
    # the row with one real token has a soft target but no hard label: it counts for the soft term only
    only = torch.zeros_like(real); only[2, 0] = True
    assert math.isclose(kld_loss(zs, zt, T, only).item(), _kl_at(zs[2, 0], zt[2, 0], T).item(), rel_tol=tol)
    assert hard_loss(zs, ids, only).item() == 0.0                                      # no position with a label: 0

def test_balanced_loss_uses_both_conventions_on_a_padded_batch():
    "balanced_loss mixes a hard loss averaged over mask[t+1] positions with a soft loss averaged over mask[t] positions."
    g = torch.Generator().manual_seed(17)
    zs, zt = torch.randn(2, 5, 7, generator=g, dtype=torch.float64), torch.randn(2, 5, 7, generator=g, dtype=torch.float64)
    ids = torch.randint(0, 7, (2, 5), generator=g)
    real = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]).bool()
    hard = hard_loss(zs, ids, real)
    got = balanced_loss(hard, zs, zt, "kld", 0.3, 2.0, mask=real)
    want = 0.3 * hard + 0.7 * kld_loss(zs, zt, 2.0, real)
    assert math.isclose(got.item(), want.item(), rel_tol=1e-12)
