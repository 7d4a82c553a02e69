"Cross-cutting checks of the chunked KD loss and criterion: same numbers as the unchunked ones, inside the trainer too."
import numpy as np, pytest, torch
from hypothesis import given, settings, strategies as st
from conftest import tiny_gpt2
from distill_edu.criteria import chunked_kld_loss, chunked_rows, ChunkedKDCriterion, head_inputs
from distill_edu.criteria import SparseKDCriterion
from distill_edu.sparse import sparsify_logits, sparse_targets
from distill_edu.cache import teacher_cache
from distill_edu.data import TokenWindows
from distill_edu.losses import kld_loss
from distill_edu.targets import TeacherTargets, LiveTeacher
from distill_edu.criteria import DistillCriterion
from distill_edu.train import make_loader, make_optimizer, train_epoch

@settings(max_examples=25, deadline=None)
@given(B=st.integers(1, 3), S=st.integers(1, 6), V=st.integers(2, 40), chunk=st.integers(1, 20),
       T=st.sampled_from([0.5, 1.0, 2.0, 5.0]), masked=st.booleans(), seed=st.integers(0, 10_000))
def test_chunked_kld_equals_kld(B, S, V, chunk, T, masked, seed):
    g = torch.Generator().manual_seed(seed)
    s, t = torch.randn(B, S, V, generator=g) * 3, torch.randn(B, S, V, generator=g) * 3
    mask = (torch.rand(B, S, generator=g) > 0.3) if masked else None
    a, b = s.clone().requires_grad_(), s.clone().requires_grad_()
    ref, got = kld_loss(a, t, T, mask), chunked_kld_loss(b, t, T, mask, chunk=chunk)
    ref.backward(); got.backward()
    assert abs(got.item() - ref.item()) <= 1e-5 * max(1.0, abs(ref.item()))
    torch.testing.assert_close(b.grad, a.grad, atol=1e-6, rtol=1e-5)

def test_extreme_logits_stay_finite():
    s = torch.tensor([[[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]]], requires_grad=True)
    t = torch.tensor([[[-1e4, 1e4, float("-inf")], [1.0, float("-inf"), 2.0]]])
    l = chunked_kld_loss(s, t, 2.0, chunk=1); l.backward()
    ref = kld_loss(s.detach(), t, 2.0)
    assert torch.isfinite(l) and torch.isfinite(s.grad).all()
    assert abs(l.item() - ref.item()) <= 1e-5 * abs(ref.item())

def test_no_grad_path_and_scaled_backward():
    s, t = torch.randn(2, 3, 10), torch.randn(2, 3, 10)
    with torch.no_grad(): v = chunked_kld_loss(s, t, 2.0, chunk=2)
    assert abs(v.item() - kld_loss(s, t, 2.0).item()) < 1e-5
    a, b = s.clone().requires_grad_(), s.clone().requires_grad_()
    (3.5 * kld_loss(a, t, 2.0)).backward(); (3.5 * chunked_kld_loss(b, t, 2.0, chunk=4)).backward()
    torch.testing.assert_close(b.grad, a.grad, atol=1e-6, rtol=1e-5)

def test_chunked_criterion_trains_like_the_reference(tmp_path):
    "A few optimizer steps with the chunked criterion follow the unchunked ones (live teacher and sparse cache)."
    V = 53
    def tiny(seed): return tiny_gpt2(seed, n_positions=16, vocab=V, dropout=False)
    torch.manual_seed(0)
    wins = TokenWindows(torch.randint(0, V, (300,)), max_length=16, stride=8, max_positions=None)
    teacher = tiny(1).eval()
    cache = teacher_cache(teacher, wins, tmp_path/"c", k=5, samples=7, temperatures=(2.0,))
    for source, ref_crit in ((LiveTeacher(teacher), DistillCriterion(0.5, "kld", 2.0)), (cache, SparseKDCriterion(0.5, "kld", 2.0))):
        losses = []
        for crit in (ref_crit, ChunkedKDCriterion(0.5, "kld", 2.0, chunk=7)):
            student, recs = tiny(2), []
            train_epoch(make_loader(wins, 4, seed=1), source, student, crit, make_optimizer(student, 1e-3),
                        on_step=lambda r: (recs.append(r["loss"]), len(recs) >= 4)[1], progress=False)
            losses.append(recs)
        np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4)

def test_fused_head_matches_unfused():
    V, B, S = 70, 2, 9
    torch.manual_seed(0)
    stu = tiny_gpt2(0, n_positions=S, vocab=V).eval()
    ids, zt = torch.randint(0, V, (B, S)), torch.randn(B, S, V)
    for alpha, T in ((0.0, 1.0), (0.5, 2.0), (1.0, 2.0)):
        crit = ChunkedKDCriterion(alpha, "kld", T, chunk=5)
        stu.zero_grad(); ref, _ = crit(stu(ids).logits, ids, TeacherTargets(logits=zt)); ref.backward()
        want = {n: p.grad.clone() for n, p in stu.named_parameters()}
        stu.zero_grad(); got, _ = crit.loss_from_model(stu, ids, TeacherTargets(logits=zt)); got.backward()
        # float32 both ways, blocked differently: each logit is a length-16 dot product and each row a sum over V,
        # so the losses agree to ≤ (16 + V + B·S)·u32 relative
        assert abs(got.item() - ref.item()) <= (16 + V + B * S) * 2.0**-24 * abs(ref.item())
        for n, p in stu.named_parameters(): torch.testing.assert_close(p.grad, want[n], atol=1e-5, rtol=1e-4)

def test_bad_inputs():
    s, t = torch.randn(2, 3, 10), torch.randn(2, 3, 10)
    with pytest.raises(ValueError, match="same shape"): chunked_kld_loss(s, t[..., :9])
    with pytest.raises(ValueError, match="chunk"): chunked_kld_loss(s, t, chunk=0)
    with pytest.raises(ValueError, match="mask"): chunked_kld_loss(s, t, mask=torch.ones(2, 2))
    with pytest.raises(ValueError, match="forward KL only"): ChunkedKDCriterion(0.5, "jsd", 2.0)
    with pytest.raises(ValueError, match="chunk"): ChunkedKDCriterion(0.5, "kld", 2.0, chunk=-3)
