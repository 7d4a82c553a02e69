"On-policy distillation: the continuation mask, λ = 0 is the teacher-forced trainer, seeded generation, the JSD on generated tokens, DDP and the CLI."
import os, shutil, subprocess, sys, textwrap, pytest, torch
from conftest import tiny_gpt2
from distill_edu.losses import jsd_loss, kld_loss, reverse_kld_loss, nll_rows
from distill_edu.targets import LiveTeacher
from distill_edu.criteria import DistillCriterion
from distill_edu.criteria import kd_criterion
from distill_edu.train import distill
from distill_edu.onpolicy import (OnPolicySource, OnPolicyCriterion, on_policy_criterion, sample_continuations,
                                  continuation_mask, check_lmbda, rollout_metrics)

V, S, P, N = 97, 16, 6, 7

def lm(seed, **kw): return tiny_gpt2(seed, n_positions=32, vocab=V, dropout=False, **kw)

@pytest.fixture
def windows():
    return torch.randint(0, V, (8, S), generator=torch.Generator().manual_seed(0))

def generated(windows, seq_kd=False):
    "A teacher, a student and the targets of one on-policy (or seq-KD) batch."
    teacher, student = lm(1, n_embd=24), lm(2)
    src = OnPolicySource(teacher, student, 0.0 if seq_kd else 1.0, seq_kd, prompt_tokens=P, max_new_tokens=N, seed=0)
    return teacher, student, src(windows[:4], torch.arange(4))

def test_mask_marks_the_logits_that_produced_the_continuation(windows):
    _, _, t = generated(windows)
    ids, m = t.extra["input_ids"], t.extra["mask"]
    assert ids.shape == (4, P + N) and torch.equal(ids[:, :P], windows[:4, :P])
    assert m[:, P - 1:P + N - 1].all() and not m[:, :P - 1].any() and not m[:, -1].any()
    assert torch.equal(m, continuation_mask(4, P, P + N))

@pytest.mark.parametrize("soft, alpha", [("jsd", 0.0), ("kld", 0.0), ("reverse_kld", 0.3), ("jsd", 0.5)])
def test_prefix_positions_carry_no_loss(windows, soft, alpha):
    "Changing the teacher's logits at the prefix positions changes nothing; their gradient is exactly zero."
    _, student, t = generated(windows)
    ids, m = t.extra["input_ids"], t.extra["mask"]
    crit = on_policy_criterion(alpha, soft, 2.0, 0.3)
    s = student(ids).logits.double().detach().requires_grad_()
    noisy = t.logits.double().clone()
    noisy[~m] += 100 * torch.randn(noisy[~m].shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    a, _ = crit.generated_loss(s, ids, t.logits.double(), m)
    b, _ = crit.generated_loss(s, ids, noisy, m)
    assert a.item() == b.item()
    a.backward()
    assert s.grad[~m].abs().max().item() == 0.0
    assert s.grad[m].abs().sum(-1).gt(0).all()

def test_hard_part_scores_the_generated_tokens(windows):
    "α = 1 on a generated batch: the mean NLL of exactly the continuation tokens (hard_loss computes in float32)."
    _, student, t = generated(windows)
    ids, m = t.extra["input_ids"], t.extra["mask"]
    s = student(ids).logits.double()
    total, _ = on_policy_criterion(1.0, "kld").generated_loss(s, ids, t.logits.double(), m)
    ref = nll_rows(torch.log_softmax(s[:, P - 1:-1], -1), ids[:, P:]).mean()      # float64 reference
    torch.testing.assert_close(total.double(), ref, rtol=1e-5, atol=0)  # float32 log-softmax over 97 and a mean of 28: ~100 eps

@pytest.mark.parametrize("beta, ref", [(0.0, lambda s, t, m: kld_loss(s, t, 1.5, m)), (1.0, lambda s, t, m: reverse_kld_loss(s, t, 1.5, m)),
                                       (0.5, lambda s, t, m: jsd_loss(s, t, 1.5, m, 0.5)), (0.9, lambda s, t, m: jsd_loss(s, t, 1.5, m, 0.9))])
def test_jsd_on_generated_tokens_is_jsd_loss_with_the_mask(windows, beta, ref):
    _, student, t = generated(windows)
    ids, m = t.extra["input_ids"], t.extra["mask"]
    s = student(ids).logits.double()
    total, _ = on_policy_criterion(0.0, "jsd", 1.5, beta).generated_loss(s, ids, t.logits.double(), m)
    assert total.item() == jsd_loss(s, t.logits.double(), 1.5, m, beta).item()
    torch.testing.assert_close(total, ref(s, t.logits.double(), m), rtol=1e-12, atol=0)  # β = 0, 1: the KLs; float64 rounding

def run(windows, source_fn, criterion, dtype=torch.float32, steps=4):
    s = lm(3).to(dtype)
    h = distill(s, source_fn(s), windows, criterion, batch_size=2, max_steps=steps, progress=False, log=None).history
    return h, s

@pytest.mark.parametrize("soft", ["kld", "jsd", "reverse_kld"])
def test_lambda_zero_is_the_teacher_forced_trainer(windows, soft):
    "λ = 0: the same losses, gradient norms and final weights as `distill` with the plain live teacher, bitwise."
    teacher = lm(1, n_embd=24)
    plain = DistillCriterion(0.2, "jsd", 2.0, 0.5) if soft == "jsd" else kd_criterion(0.2, soft, 2.0)
    h0, s0 = run(windows, lambda s: LiveTeacher(teacher), plain)
    h1, s1 = run(windows, lambda s: OnPolicySource(teacher, s, 0.0, prompt_tokens=P, max_new_tokens=N), on_policy_criterion(0.2, soft, 2.0, 0.5))
    for c in ("loss", "hard", "soft", "grad_norm"): assert h0[c].tolist() == h1[c].tolist(), c
    assert set(h1.data) == {"real"}
    for (k, a), b in zip(s0.state_dict().items(), s1.state_dict().values()): assert torch.equal(a, b), k

def test_lambda_one_trains_on_the_students_samples(windows):
    teacher = lm(1, n_embd=24)
    h, _ = run(windows, lambda s: OnPolicySource(teacher, s, 1.0, prompt_tokens=P, max_new_tokens=N), on_policy_criterion(0.0, "jsd"))
    assert set(h.data) == {"student"} and h.loss.notna().all()

def test_generation_is_seeded_and_leaves_the_caller_alone():
    model, prefix = tiny_gpt2(4, vocab=V), torch.randint(0, V, (3, P), generator=torch.Generator().manual_seed(2))
    model.train()
    torch.manual_seed(123); before = torch.rand(3)
    torch.manual_seed(123)
    a = sample_continuations(model, prefix, N, temperature=0.8, top_k=20, seed=7)
    assert torch.equal(torch.rand(3), before)                    # the global RNG continues as if nothing happened
    assert model.training                                        # train mode restored
    assert torch.equal(a, sample_continuations(model, prefix, N, temperature=0.8, top_k=20, seed=7))
    assert not torch.equal(a, sample_continuations(model, prefix, N, temperature=0.8, top_k=20, seed=8))

def test_kv_cached_greedy_generation_matches_full_forward():
    "top-1 sampling is greedy: every generated token is the argmax of a full (uncached) forward over what precedes it."
    model, prefix = lm(5), torch.randint(0, V, (3, P), generator=torch.Generator().manual_seed(3))
    ids = sample_continuations(model, prefix, N, top_k=1, seed=0)
    with torch.no_grad(): full = model(ids).logits
    assert torch.equal(full[:, P - 1:-1].argmax(-1), ids[:, P:])

def test_lambda_mixture_is_a_seeded_coin_per_batch():
    "λ = 0.3 over 400 different batches: about 30 % on-policy (4 binomial standard deviations), and the same batch always draws the same."
    src = OnPolicySource(lm(1), lm(2), 0.3, seed=5, prompt_tokens=P, max_new_tokens=N)
    kinds = [src.draw(torch.tensor([i, i + 1]))[0] for i in range(400)]
    share = kinds.count("student") / 400
    assert abs(share - 0.3) < 4 * (0.3 * 0.7 / 400) ** 0.5
    assert set(kinds) == {"student", "real"}
    assert [src.draw(torch.tensor([i, i + 1]))[0] for i in range(400)] == kinds

def test_seq_kd_uses_the_teachers_continuations(windows):
    teacher, _, t = generated(windows, seq_kd=True)
    assert t.extra["data"] == "teacher"
    assert torch.equal(t.extra["input_ids"], sample_continuations(teacher, windows[:4, :P], N, seed=OnPolicySource(
        teacher, lm(2), 0.0, True, P, N, seed=0).draw(torch.arange(4))[1]))

def test_bad_settings_say_what_to_do(windows):
    with pytest.raises(ValueError, match=r"lmbda must be a number in \[0, 1\]"): check_lmbda(-0.1)
    with pytest.raises(ValueError, match="beta must be a number in"): on_policy_criterion(beta=1.2)
    with pytest.raises(ValueError, match="exceeds the models' context"): OnPolicySource(lm(1), lm(2), prompt_tokens=20, max_new_tokens=20)
    with pytest.raises(ValueError, match="top_k must be >= 0"): OnPolicySource(lm(1), lm(2), top_k=-1)
    _, student, t = generated(windows)
    with pytest.raises(ValueError, match="call loss_from_model"): on_policy_criterion()(student(windows[:4]).logits, windows[:4], t)
    with pytest.raises(ValueError, match="shorter than prompt_tokens"):
        OnPolicySource(lm(1), lm(2), 1.0, prompt_tokens=20, max_new_tokens=5)(windows[:2], None)

def test_rollout_metrics_shapes_and_ranges(windows):
    r = rollout_metrics(lm(2), lm(1, n_embd=24), windows[:4, :P], N, batch_size=2)
    assert len(r["position_nll"]) == len(r["position_kl"]) == N
    assert 0 < r["distinct2"] <= 1 and r["kl"] >= 0 and r["teacher_nll"] > 0

WORKER = textwrap.dedent('''
    import sys, torch, torch.distributed as dist
    from transformers import GPT2Config, GPT2LMHeadModel
    from distill_edu.train import distill, init_distributed
    from distill_edu.onpolicy import OnPolicySource, on_policy_criterion
    rank, world = init_distributed()
    def lm(seed, n_embd):
        torch.manual_seed(seed)
        return GPT2LMHeadModel(GPT2Config(vocab_size=101, n_embd=n_embd, n_layer=1, n_head=2, n_positions=16))
    g = torch.Generator().manual_seed(0)
    data = [torch.randint(0, 101, (16,), generator=g) for _ in range(16)]
    student = lm(rank, 16)
    src = OnPolicySource(lm(7, 32), student, lmbda=1.0, prompt_tokens=4, max_new_tokens=8, seed=0)
    r = distill(student, src, data, on_policy_criterion(0.0, "jsd"), batch_size=4, device="cpu", progress=False, log=None)
    torch.save({k: v.detach().clone() for k, v in student.state_dict().items()}, f"{sys.argv[1]}/rank{rank}.pt")
    torch.save(r.history.loss.tolist(), f"{sys.argv[1]}/loss{rank}.pt")
    dist.destroy_process_group()
''')

@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_on_policy_under_ddp(tmp_path):
    "Two gloo processes: each samples its own batch (different losses), the weights stay identical."
    (tmp_path/"worker.py").write_text(WORKER)
    torchrun = shutil.which("torchrun") or os.path.join(os.path.dirname(sys.executable), "torchrun")
    p = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", str(tmp_path/"worker.py"), str(tmp_path)],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr[-3000:]
    w0, w1 = (torch.load(tmp_path/f"rank{r}.pt") for r in (0, 1))
    for k in w0: assert torch.equal(w0[k], w1[k]), k
    l0, l1 = (torch.load(tmp_path/f"loss{r}.pt") for r in (0, 1))
    assert len(l0) == 2 and l0 != l1

from test_cli import tiny, args as cli_args   # the tiny teacher folder and corpus of the CLI tests
from distill_edu.cli import main

def test_cli_on_policy_jsd_end_to_end(tiny, capsys):
    "`train --on-policy 1 --soft-loss jsd --beta 0.5` on a tiny teacher: demo mode's sparse cache gives way to the live teacher."
    out = tiny/"onpolicy"
    argv = ["train", *cli_args(tiny, "--batch-size", "2", "--max-steps", "2", "--stride", "8", "--out", str(out)), "--on-policy", "1.0",
            "--soft-loss", "jsd", "--beta", "0.5", "--alpha", "0", "--prompt-tokens", "6", "--max-new-tokens", "8"]
    assert main(argv) == 0
    assert "OnPolicySource(lmbda=1.0" in capsys.readouterr().out
    import pandas as pd
    assert set(pd.read_csv(out/"history.csv").data) == {"student"}

@pytest.mark.parametrize("extra, message", [(["--on-policy", "1.5"], "lmbda must be a number in [0, 1]"),
                                            (["--on-policy", "-0.5"], "lmbda"),
                                            (["--soft-loss", "jsd", "--beta", "2"], "beta must be a number in [0, 1]"),
                                            (["--on-policy", "1", "--teacher-cache", "exact"], "no cache holds")])
def test_cli_bad_on_policy_options(tiny, extra, message, capsys):
    assert main(["train", *cli_args(tiny, "--out", str(tiny/"bad")), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err

def test_cli_prompt_longer_than_context(tiny, capsys):
    assert main(["train", *cli_args(tiny, "--out", str(tiny/"bad2")), "--on-policy", "1", "--prompt-tokens", "12", "--max-new-tokens", "8"]) == 2
    assert "exceeds the models' context" in capsys.readouterr().err
