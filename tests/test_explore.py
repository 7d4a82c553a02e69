"The explorers can be driven from Python: set sliders, then check what is drawn against the math (issue 3)."
import math
import ipywidgets as W
import pytest
import torch
import torch.nn.functional as F
from distill_edu.core import EXAMPLE
from distill_edu.explore import temperature_explorer, alpha_explorer, mixed_target, optimal_student, _optimal_logits, Explorer

ZT = torch.tensor(EXAMPLE["teacher_logits"], dtype=torch.float64)
ZS = torch.tensor(EXAMPLE["student_logits"], dtype=torch.float64)
TOK = EXAMPLE["tokens"]
Y = TOK.index(EXAMPLE["label"])

def probs(z, T):  # written out, independent of the library
    e = torch.exp((z - z.max()) / T)
    return e / e.sum()

def H(p): return -(p * p.clamp_min(1e-300).log()).sum().item()

@pytest.fixture(scope="module")
def tx(): return temperature_explorer(ZT, ZS, TOK, temperature=1.0)

@pytest.fixture(scope="module")
def ax(): return alpha_explorer(ZT, ZS, Y, TOK)

def test_temperature_slider_is_log_scaled_and_named(tx):
    s = tx.sliders["temperature"]
    assert isinstance(s, W.FloatLogSlider) and "temperature" in s.description and "T" in s.description
    assert math.isclose(s.base**s.min, 0.1) and math.isclose(s.base**s.max, 20.0)
    assert isinstance(tx.widget, W.VBox) and s in tx.widget.children[0].children

@pytest.mark.parametrize("T", [0.1, 1.0, 7.5, 20.0])
def test_temperature_redraw_matches_math(tx, T):
    png_before = tx.png
    tx.set(temperature=T)
    v, order = tx.values, ZT.argsort(descending=True)
    assert v["temperature"] == T and v["tokens"] == [TOK[i] for i in order]
    for who, z in (("teacher", ZT), ("student", ZS)):
        p = probs(z, T)
        torch.testing.assert_close(v[f"{who}_probs"].double(), p[order], atol=1e-6, rtol=0)
        assert math.isclose(v[f"{who}_entropy"], H(p), abs_tol=1e-5)
        assert math.isclose(v[f"{who}_max"], p.max().item(), abs_tol=1e-6)
    assert tx.png.startswith(b"\x89PNG") and (T == 1.0 or tx.png != png_before)
    assert tx.image.value == tx.png

def test_moving_the_widget_itself_redraws(tx):
    tx.sliders["temperature"].value = 4.0   # what a user's drag does
    assert tx.values["temperature"] == 4.0
    assert math.isclose(tx.values["teacher_entropy"], H(probs(ZT, 4.0)), abs_tol=1e-5)

def test_entropy_rises_and_max_prob_falls_along_the_slider(tx):
    Hs, Ms = [], []
    for T in (0.1, 0.5, 1, 2, 5, 20):
        tx.set(temperature=T); Hs.append(tx.values["teacher_entropy"]); Ms.append(tx.values["teacher_max"])
    assert Hs == sorted(Hs) and Ms == sorted(Ms, reverse=True)

def test_temperature_explorer_bad_input(tx):
    for bad in (0.05, 25.0):
        with pytest.raises(ValueError, match=repr(bad)): tx.set(temperature=bad)
    with pytest.raises(ValueError, match="alpha"): tx.set(alpha=0.5)
    with pytest.raises(ValueError, match="same length"): temperature_explorer(ZT, ZS[:5])
    with pytest.raises(ValueError, match="one token per logit"): temperature_explorer(ZT, tokens=TOK[:3])
    with pytest.raises(ValueError, match="0"): temperature_explorer(ZT, temperature=0)

def test_teacher_only_and_top_k():
    e = temperature_explorer(torch.randn(500), top_k=7, temperature=3.0)
    assert len(e.values["tokens"]) == 7 and "student_probs" not in e.values
    assert e.values["tokens"][0].startswith("#")

# ---- alpha explorer ----------------------------------------------------------------------------
def test_alpha_controls(ax):
    a, t, s = ax.sliders["alpha"], ax.sliders["temperature"], ax.sliders["soft_loss"]
    assert (a.min, a.max) == (0.0, 1.0) and isinstance(t, W.FloatLogSlider)
    assert list(s.options) == ["kld", "mse", "reverse_kld", "jsd"]

@pytest.mark.parametrize("alpha,T", [(0.0, 1.0), (0.25, 2.0), (0.9, 10.0), (1.0, 0.5)])
def test_alpha_redraw_matches_math_kld(ax, alpha, T):
    ax.set(alpha=alpha, temperature=T, soft_loss="kld")
    v = ax.values
    hard = -torch.log_softmax(ZS, -1)[Y].item()
    p, q = probs(ZT, T), probs(ZS, T)
    soft = T * T * (p * (p / q).log()).sum().item()
    assert math.isclose(v["hard"], hard, rel_tol=1e-5)
    assert math.isclose(v["soft"], soft, rel_tol=1e-4, abs_tol=1e-6)
    assert math.isclose(v["total"], alpha * hard + (1 - alpha) * soft, rel_tol=1e-4, abs_tol=1e-6)
    assert math.isclose(v["weighted_hard"] + v["weighted_soft"], v["total"], rel_tol=1e-5, abs_tol=1e-6)
    order = ZT.argsort(descending=True)
    torch.testing.assert_close(v["optimum"].double(), optimal_student(ZT, Y, alpha, T)[order], atol=1e-6, rtol=0)
    torch.testing.assert_close(v["teacher_probs"].double(), probs(ZT, 1.0)[order], atol=1e-6, rtol=0)
    torch.testing.assert_close(v["student_probs"].double(), probs(ZS, 1.0)[order], atol=1e-6, rtol=0)

def test_alpha_ends(ax):
    ax.set(alpha=1.0, temperature=2.0, soft_loss="kld")
    assert ax.values["total"] == pytest.approx(ax.values["hard"])
    assert ax.values["optimum"][ax.values["tokens"].index(EXAMPLE["label"])].item() == pytest.approx(1.0)
    ax.set(alpha=0.0)
    assert ax.values["total"] == pytest.approx(ax.values["soft"])
    torch.testing.assert_close(ax.values["optimum"], ax.values["teacher_probs"])
    ax.set(soft_loss="jsd")
    assert ax.values["optimum"] is None   # no single minimum to draw

def test_alpha_mse_ignores_temperature(ax):
    ax.set(alpha=0.4, soft_loss="mse", temperature=0.5); a = ax.values["soft"]
    ax.set(temperature=8.0); b = ax.values["soft"]
    assert a == pytest.approx(b) == pytest.approx(((ZS - ZT) ** 2).mean().item(), rel=1e-5)

def test_alpha_widget_moves_redraw(ax):
    ax.sliders["alpha"].value = 0.2
    ax.sliders["soft_loss"].value = "reverse_kld"
    assert ax.values["alpha"] == 0.2 and ax.values["soft_loss"] == "reverse_kld"
    p, q = probs(ZT, ax.values["temperature"]), probs(ZS, ax.values["temperature"])
    T = ax.values["temperature"]
    assert ax.values["soft"] == pytest.approx(T * T * (q * (q / p).log()).sum().item(), rel=1e-4)

def test_alpha_explorer_bad_input(ax):
    with pytest.raises(ValueError, match="1.5"): ax.set(alpha=1.5)
    with pytest.raises(ValueError, match="'kl'"): ax.set(soft_loss="kl")
    with pytest.raises(ValueError, match="alpha"): alpha_explorer(ZT, ZS, Y, alpha=-0.1)
    with pytest.raises(ValueError, match="unknown soft loss"): alpha_explorer(ZT, ZS, Y, soft_loss="KL")
    with pytest.raises(ValueError, match="label"): alpha_explorer(ZT, ZS, 10)
    with pytest.raises(ValueError, match="same length"): alpha_explorer(ZT, ZS[:4], 0)

def test_label_always_drawn():
    zt = torch.arange(20.0)
    e = alpha_explorer(zt, torch.zeros(20), label=0, top_k=5)   # the label is the teacher's least likely token
    assert "#0" in e.values["tokens"] and len(e.values["tokens"]) == 5

def test_mixed_target_is_the_gradient_target_at_T1():
    z = ZS.clone().requires_grad_()
    alpha = 0.3
    from distill_edu.losses import balanced_loss
    balanced_loss(F.cross_entropy(z[None], torch.tensor([Y])), z[None], ZT[None], "kld", alpha, 1.0).backward()
    torch.testing.assert_close(z.grad, probs(ZS, 1.0) - mixed_target(ZT, Y, alpha))

# ---- the optimum of the total loss (issue 16: temperature does not flatten the target) ---------
def written_out_grad(z, alpha, T, soft):
    "Gradient of alpha·CE(y, z) + (1-alpha)·soft(z) w.r.t. the free logits z, written out (not autograd)."
    hard = probs(z, 1.0) - F.one_hot(torch.tensor(Y), len(z)).double()
    s = T * (probs(z, T) - probs(ZT, T)) if soft == "kld" else 2 / len(z) * (z - ZT)
    return alpha * hard + (1 - alpha) * s

@pytest.mark.parametrize("soft", ["kld", "mse"])
@pytest.mark.parametrize("T", [0.3, 1.0, 4.0, 20.0])
@pytest.mark.parametrize("alpha", [0.1, 0.5, 0.9])
def test_optimum_is_stationary(alpha, T, soft):
    z = _optimal_logits(ZT, Y, alpha, T, soft)
    # a convex total whose written-out gradient vanishes: the minimum. Newton stops at |g|∞ ≤ 1e-10.
    assert written_out_grad(z, alpha, T, soft).abs().max() < 1e-9
    torch.testing.assert_close(optimal_student(ZT, Y, alpha, T, soft), probs(z, 1.0))

@pytest.mark.parametrize("T", [0.5, 1.0, 5.0, 20.0])
def test_temperature_does_not_move_the_soft_optimum(T):
    "α → 0: the optimum is the teacher at T = 1 for every T, never softmax(z_t / T)."
    # the optimum moves by ~α / (smallest curvature of the soft term ≈ min softmax(z_t/T) ≥ 1e-4 for T ≥ 0.5 here):
    # α = 1e-7 gives ≤ ~1e-3 in a logit, ≤ ~1e-5 in a probability. (At T = 0.2 the tempered teacher's tail is
    # ~1e-11, the soft term barely constrains it, and α must be far smaller for the limit to show.)
    torch.testing.assert_close(optimal_student(ZT, Y, 1e-7, T), probs(ZT, 1.0), atol=1e-5, rtol=0)
    torch.testing.assert_close(optimal_student(ZT, Y, 0.0, T), probs(ZT, 1.0), atol=1e-12, rtol=0)

@pytest.mark.parametrize("alpha", [0.2, 0.6])
def test_optimum_at_T1_is_the_mixed_target(alpha):
    # Newton stops at |g|∞ ≤ 1e-10 and the Hessian's non-zero eigenvalues are ≥ α·min q ≥ 1e-3: ≤ 1e-7
    torch.testing.assert_close(optimal_student(ZT, Y, alpha, 1.0), mixed_target(ZT, Y, alpha), atol=1e-7, rtol=0)

def test_optimal_student_bad_input():
    with pytest.raises(ValueError, match="reverse_kld"): optimal_student(ZT, Y, 0.5, 2.0, "reverse_kld")
    with pytest.raises(ValueError, match="1.5"): optimal_student(ZT, Y, 1.5)
    with pytest.raises(ValueError, match="label"): optimal_student(ZT, 10)
    with pytest.raises(ValueError, match="0"): optimal_student(ZT, Y, 0.5, 0)

def test_explorer_generic():
    import matplotlib.pyplot as plt
    calls = []
    def draw(k):
        calls.append(k); fig, a = plt.subplots(); a.plot([0, k]); return fig, dict(k=k, double=2 * k)
    e = Explorer({"k": W.IntSlider(value=1, min=0, max=5)}, draw)
    e.set(k=3)
    assert e.values == dict(k=3, double=6) and calls == [1, 3] and e.params == dict(k=3)
    e.sliders["k"].value = 4                      # a user's move redraws through the observer
    assert calls == [1, 3, 4] and e.values["double"] == 8
    with pytest.raises(ValueError, match="outside"): e.set(k=9)
