"Cross-cutting tests of distill_edu.train and distill_edu.evaluate on tiny random models (CPU, seconds)."
import math, pytest, torch
import functools
from conftest import tiny_gpt2
from distill_edu.losses import hard_loss
from distill_edu.targets import LiveTeacher, TeacherTargets
from distill_edu.criteria import DistillCriterion
from distill_edu.train import distill, make_loader, train_epoch, make_optimizer, warmup_schedule
from distill_edu.criteria import kd_criterion
from distill_edu.evaluate import evaluate
from distill_edu.models import load_tokenizer

V = 503    # a small vocabulary keeps these tests fast; the sampling test uses GPT-2's (50,257)

lm = functools.partial(tiny_gpt2, vocab=V)

@pytest.fixture(scope="module")
def setup():
    g = torch.Generator().manual_seed(0)
    data = [torch.randint(0, V, (16,), generator=g) for _ in range(24)]
    return LiveTeacher(lm(99, n_embd=32, n_layer=2)), data

KW = dict(criterion=kd_criterion(0.5, "kld", 2.0), batch_size=4, device="cpu", progress=False, log=None, sample_tokens=4)

def test_resume_after_epoch_reproduces_losses(setup, tmp_path):
    teacher, data = setup
    full = distill(lm(0), teacher, data, epochs=2, **KW)
    first = distill(lm(0), teacher, data, epochs=1, out=tmp_path, **KW)
    assert first.checkpoint.exists() and len(first.history) == 6
    again = distill(lm(5), teacher, data, epochs=2, out=tmp_path, resume=first.checkpoint, **KW)
    assert again.history.step.tolist() == list(range(1, 13))
    assert max(abs(a - b) for a, b in zip(again.history.loss, full.history.loss)) < 1e-6
    # the resumed student ends with the uninterrupted run's weights
    for p, q in zip(again.student.parameters(), full.student.parameters()): assert torch.allclose(p, q, atol=1e-6)

def test_resume_mid_epoch_with_dropout_and_warmup(setup, tmp_path):
    teacher, data = setup
    kw = dict(KW, warmup_steps=3, epochs=2)
    full = distill(lm(0), teacher, data, **kw)
    part = distill(lm(0), teacher, data, max_steps=4, out=tmp_path, checkpoint_every=2, **kw)
    rest = distill(lm(1), teacher, data, out=tmp_path, resume=part.checkpoint, **kw)
    assert max(abs(a - b) for a, b in zip(rest.history.loss, full.history.loss)) < 1e-6
    assert rest.history.lr.tolist() == full.history.lr.tolist()
    # a different run would not be continued: refused
    with pytest.raises(ValueError, match="seed was 0, now 1"):
        distill(lm(0), teacher, data, out=tmp_path, resume=part.checkpoint, **{**kw, "seed": 1})

def test_resume_from_another_model_is_refused(setup, tmp_path):
    teacher, data = setup
    r = distill(lm(0), teacher, data, epochs=1, out=tmp_path, **KW)
    with pytest.raises(ValueError, match="does not belong to this model"):
        distill(lm(0, n_embd=32), teacher, data, epochs=2, resume=r.checkpoint, **KW)
    with pytest.raises(FileNotFoundError):
        distill(lm(0), teacher, data, epochs=2, resume=tmp_path/"nope.pt", **KW)

def test_alpha_one_never_calls_the_teacher_and_matches_plain_ce(setup):
    _, data = setup
    def boom(ids, widx): raise AssertionError("teacher called")
    r = distill(lm(0), boom, data, epochs=1, **{**KW, "criterion": kd_criterion(1.0, "kld", 2.0)})
    assert (r.history.loss == r.history.hard).all() and r.history.soft.isna().all()

def test_criterion_parts_and_soft_only(setup):
    teacher, data = setup
    x = torch.stack(data[:2])
    s = lm(0)(x).logits
    t = teacher(x, None)
    for a in (0.0, 0.3, 1.0):
        tot, parts = DistillCriterion(a, "kld", 1.0)(s, x, t, None)
        soft = 0.0 if a == 1 else parts["soft"]
        assert math.isclose(tot.item(), a * parts["hard"] + (1 - a) * soft, rel_tol=1e-5, abs_tol=1e-6)
    with pytest.raises(ValueError, match="full logits"):
        DistillCriterion(0.5)(s, x, TeacherTargets(topk_logits=t.logits[..., :4], topk_indices=torch.zeros_like(x)[..., None]), None)

def test_hard_loss_mask():
    lg, y = torch.randn(2, 6, 11), torch.randint(0, 11, (2, 6))
    m = torch.ones(2, 6, dtype=torch.bool); m[1, 3:] = False
    want = torch.nn.functional.cross_entropy(torch.cat([lg[0, :5], lg[1, :2]]), torch.cat([y[0, 1:], y[1, 1:3]]))
    assert torch.allclose(hard_loss(lg, y, m), want, atol=1e-6)

def test_epoch_orders_differ_and_cover_every_window(setup):
    _, data = setup
    seen = [torch.cat([i for i, _ in make_loader(data, 4, epoch=e, seed=3)]).tolist() for e in (0, 1)]
    assert sorted(seen[0]) == sorted(seen[1]) == list(range(24)) and seen[0] != seen[1]

def test_warmup_and_clipping():
    m = lm(0)
    opt = make_optimizer(m, lr=1e-3)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    sch = warmup_schedule(opt, 4)
    lrs = []
    for _ in range(6): lrs.append(opt.param_groups[0]["lr"]); opt.step(); sch.step()
    assert lrs == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])

def test_training_reduces_held_out_kl(setup):
    teacher, data = setup
    before = evaluate(lm(0), data[:8], teacher)
    r = distill(lm(0), teacher, data, epochs=8, **{**KW, "criterion": kd_criterion(0.0, "kld", 1.0), "lr": 3e-3})
    after = evaluate(r.student, data[:8], teacher)
    assert after["kl"] < before["kl"] and after["top1"] >= before["top1"]

def test_samples_before_and_each_epoch(setup):
    _, data = setup
    tok = load_tokenizer("gpt2")
    r = distill(lm(0, vocab=len(tok)), LiveTeacher(lm(9, vocab=len(tok))), data, epochs=2, tokenizer=tok, **KW)
    assert r.samples.epoch.tolist() == ["before"] * 3 + ["epoch 1"] * 3 + ["epoch 2"] * 3
    assert all(s.startswith(p) for s, p in zip(r.samples.response, r.samples.prompt))

def test_micro_batches_make_the_same_steps(setup):
    "Gradient accumulation (micro_batches=2) on a model without dropout: the same losses and weights as whole batches."
    teacher, data = setup
    plain = functools.partial(tiny_gpt2, vocab=V, dropout=False)
    whole = distill(plain(0), teacher, data, epochs=1, **KW)
    halves = distill(plain(0), teacher, data, epochs=1, micro_batches=2, **KW)
    assert max(abs(a - b) for a, b in zip(whole.history.loss, halves.history.loss)) < 1e-5
    for p, q in zip(whole.student.parameters(), halves.student.parameters()): assert torch.allclose(p, q, atol=1e-5)
    with pytest.raises(ValueError, match="not a multiple of micro_batches 3"):
        distill(plain(0), teacher, data, micro_batches=3, **KW)
