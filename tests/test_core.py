"Tests for distill_edu.core: the tempered softmax, its log, entropy and the input checks (issue 3, lesson 2)."
import math
import pytest
import torch
from hypothesis import given, settings, strategies as st
from distill_edu.core import softmax_t, log_softmax_t, entropy, check_temperature, as_fp32

SETTINGS = dict(max_examples=40, deadline=None)

@st.composite
def logit_rows(draw, max_v=30):
    v = draw(st.integers(2, max_v))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    return torch.randn(draw(st.integers(1, 4)), v, generator=g) * draw(st.floats(0.1, 10.0))

@given(logit_rows())
@settings(**SETTINGS)
def test_t1_is_torch_softmax_exactly(z):
    assert torch.equal(softmax_t(z, 1.0), torch.softmax(z, -1))
    assert torch.equal(softmax_t(z), torch.softmax(z, -1))

@given(logit_rows(), st.floats(0.05, 50.0))
@settings(**SETTINGS)
def test_is_a_distribution_with_same_ranking(z, T):
    p = softmax_t(z, T)
    torch.testing.assert_close(p.sum(-1), torch.ones(z.shape[0]))
    assert (p >= 0).all()
    torch.testing.assert_close(log_softmax_t(z, T).exp(), p)
    assert torch.equal(p.argmax(-1), z.argmax(-1))

def test_low_temperature_tends_to_one_hot_high_to_uniform():
    z = torch.tensor([1.0, 3.0, 2.5, -1.0], dtype=torch.float64)
    onehot = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    gaps = [(softmax_t(z, T) - onehot).abs().max().item() for T in (1.0, 0.1, 0.01, 0.001)]
    assert all(a > b for a, b in zip(gaps, gaps[1:])) and gaps[-1] < 1e-12
    gaps = [(softmax_t(z, T) - 0.25).abs().max().item() for T in (1.0, 10.0, 1e3, 1e6)]
    assert all(a > b for a, b in zip(gaps, gaps[1:])) and gaps[-1] < 1e-5

@given(logit_rows(), st.floats(0.05, 20.0), st.floats(1.01, 5.0))
@settings(**SETTINGS)
def test_entropy_rises_with_temperature(z, T, factor):
    z = z.double()
    assert (entropy(softmax_t(z, T * factor)) >= entropy(softmax_t(z, T)) - 1e-9).all()
    assert (entropy(softmax_t(z, T)) <= math.log(z.shape[-1]) + 1e-9).all()

def test_entropy_values_and_zero_probabilities():
    assert entropy(torch.tensor([1.0, 0.0, 0.0])).item() == 0.0
    torch.testing.assert_close(entropy(torch.full((8,), 1 / 8)), torch.tensor(math.log(8)))

def test_log_softmax_t_is_stable():
    assert log_softmax_t(torch.tensor([0.0, -1e4]), 1.0)[1].item() == -1e4
    assert torch.isfinite(log_softmax_t(torch.tensor([1e4, -1e4]), 0.1)).all()

@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_inputs_upcast(dtype):
    z = torch.randn(3, 100).to(dtype)
    assert softmax_t(z, 2.0).dtype == torch.float32
    torch.testing.assert_close(softmax_t(z, 2.0), torch.softmax(z.float() / 2.0, -1))
    assert as_fp32(z).dtype == torch.float32 and as_fp32(z.double()).dtype == torch.float64

@pytest.mark.parametrize("bad", [0, 0.0, -1, -0.01, float("nan"), float("inf"), "hot", None])
def test_bad_temperature(bad):
    with pytest.raises(ValueError, match="temperature") as e: softmax_t(torch.zeros(3), bad)
    assert repr(bad) in str(e.value)
    with pytest.raises(ValueError): log_softmax_t(torch.zeros(3), bad)
    with pytest.raises(ValueError): check_temperature(bad)
