"""Pruning a teacher into a student (nbs/12_prune.ipynb): exactness of the cuts, the importance scores, the round trip
through save_pretrained / from_pretrained, and one-line errors for bad shapes. Tiny random models, float64."""
import tempfile
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM
from distill_edu.losses import hard_loss, kld_loss
from distill_edu.prune import (blocks, choose_layers, head_importance, layer_importance, mlp_importance, mlp_width,
                               model_family, parameter_share, prune_heads, prune_layers, prune_mlp, skipping)

def llama(layers=4):
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=101, hidden_size=48, intermediate_size=64, num_hidden_layers=layers,
                                        num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=64,
                                        tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=0)).double().eval()

def gpt2(layers=4):
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=101, n_embd=48, n_layer=layers, n_head=4, n_positions=64,
                                      bos_token_id=1, eos_token_id=2)).double().eval()

def qwen2(layers=4):
    "Biases on q/k/v and per-layer `layer_types` (sliding-window layers): what a Llama alone does not exercise."
    torch.manual_seed(0)
    return Qwen2ForCausalLM(Qwen2Config(vocab_size=101, hidden_size=48, intermediate_size=64, num_hidden_layers=layers,
                                        num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=64,
                                        use_sliding_window=True, sliding_window=8, max_window_layers=2,
                                        bos_token_id=1, eos_token_id=2, pad_token_id=0)).double().eval()

MODELS = {"llama": llama, "gpt2": gpt2, "qwen2": qwen2}
IDS = torch.randint(3, 101, (3, 20), generator=torch.Generator().manual_seed(1))

@pytest.fixture(params=list(MODELS))
def teacher(request): return MODELS[request.param]()

def logits(model, ids=IDS):
    with torch.no_grad(): return model.eval()(ids).logits

def test_nothing_pruned_is_the_teacher_exactly(teacher):
    ref = logits(teacher)
    assert torch.equal(logits(prune_layers(teacher, range(4))), ref)
    assert torch.equal(logits(prune_mlp(teacher, mlp_importance(teacher, IDS), mlp_width(teacher))), ref)
    if model_family(teacher) == "llama":
        assert torch.equal(logits(prune_heads(teacher, head_importance(teacher, IDS), teacher.config.num_attention_heads)), ref)
    assert parameter_share(prune_layers(teacher, range(4)), teacher) == (sum(p.numel() for p in teacher.parameters()), 1.0)

def test_teacher_untouched_and_student_trainable(teacher):
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = prune_mlp(prune_layers(teacher, [0, 3]), mlp_importance(prune_layers(teacher, [0, 3]), IDS), 10)
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert not any(p.requires_grad for p in teacher.parameters()) or all(p.requires_grad for p in teacher.parameters())
    assert student.training and all(p.requires_grad for p in student.parameters())
    assert student.dtype == torch.float64 and prune_layers(teacher, [1], dtype=torch.float32).dtype == torch.float32

@pytest.mark.parametrize("skip", range(4))
def test_skipping_a_block_is_running_the_pruned_model(teacher, skip):
    with torch.no_grad(), skipping(teacher.eval(), skip): skipped = teacher(IDS).logits
    assert torch.equal(skipped, logits(prune_layers(teacher, [i for i in range(4) if i != skip])))

def test_importance_scores_are_the_pruned_models_numbers(teacher):
    scores = layer_importance(teacher, IDS, batch_size=2)
    full = logits(teacher)
    for i in range(4):
        pruned = logits(prune_layers(teacher, [j for j in range(4) if j != i]))
        assert scores.loss[i] == pytest.approx(hard_loss(pruned, IDS).item(), abs=1e-5)
        assert scores.kl_increase[i] == pytest.approx(kld_loss(pruned, full, temperature=1.0).item(), abs=1e-6)
        assert scores.loss_increase[i] == pytest.approx(scores.loss[i] - hard_loss(full, IDS).item(), abs=1e-5)
    assert ((scores.block_influence > 0) & (scores.block_influence < 2)).all()

def test_layer_indices_and_layer_types_follow_the_kept_blocks():
    q = qwen2()
    student = prune_layers(q, [1, 2])
    assert [b.self_attn.layer_idx for b in blocks(student)] == [0, 1]
    assert student.config.layer_types == [q.config.layer_types[1], q.config.layer_types[2]] == ["full_attention", "sliding_attention"]
    assert torch.equal(logits(student), logits(prune_layers(q, [1, 2])))

def test_mlp_pruning_keeps_the_kept_neurons_exactly():
    for make in (llama, gpt2):
        t = make()
        imp = mlp_importance(t, IDS)
        s = prune_mlp(t, imp, 17)
        for i in range(4):
            kept = torch.sort(torch.topk(imp[i], 17).indices).values
            tb, sb = blocks(t)[i].mlp, blocks(s)[i].mlp
            if make is gpt2:
                pairs = [(sb.c_fc.weight, tb.c_fc.weight[:, kept]), (sb.c_fc.bias, tb.c_fc.bias[kept]),
                         (sb.c_proj.weight, tb.c_proj.weight[kept]), (sb.c_proj.bias, tb.c_proj.bias)]
            else:
                pairs = [(sb.gate_proj.weight, tb.gate_proj.weight[kept]), (sb.up_proj.weight, tb.up_proj.weight[kept]),
                         (sb.down_proj.weight, tb.down_proj.weight[:, kept])]
            assert all(torch.equal(a, b) for a, b in pairs)
        assert mlp_width(s) == 17

def test_head_pruning_keeps_whole_groups_with_biases():
    q = qwen2()
    imp = head_importance(q, IDS)
    s = prune_heads(q, imp, 3)                       # 6 query heads in 2 groups of 3: keep one group
    assert (s.config.num_attention_heads, s.config.num_key_value_heads, s.config.head_dim) == (3, 1, 8)
    for i in range(4):
        g = int(imp[i].argmax())
        ta, sa = blocks(q)[i].self_attn, blocks(s)[i].self_attn
        assert torch.equal(sa.q_proj.weight, ta.q_proj.weight[g*24:(g+1)*24]) and torch.equal(sa.q_proj.bias, ta.q_proj.bias[g*24:(g+1)*24])
        assert torch.equal(sa.k_proj.bias, ta.k_proj.bias[g*8:(g+1)*8]) and torch.equal(sa.v_proj.weight, ta.v_proj.weight[g*8:(g+1)*8])
        assert torch.equal(sa.o_proj.weight, ta.o_proj.weight[:, g*24:(g+1)*24])

def test_pruned_model_round_trips_and_generates(teacher, tmp_path):
    student = prune_layers(teacher, [0, 2, 3])
    student = prune_mlp(student, mlp_importance(student, IDS), 24)
    if model_family(teacher) == "llama": student = prune_heads(student, head_importance(student, IDS), 3)
    student.save_pretrained(tmp_path)
    back = type(teacher).from_pretrained(tmp_path, dtype=torch.float64)
    assert back.config.to_dict() == student.config.to_dict() or back.config.num_hidden_layers == 3
    assert torch.equal(logits(back), logits(student))
    with torch.no_grad():
        out = back.eval().generate(IDS[:1, :5], max_new_tokens=8, do_sample=False, pad_token_id=0)
        # generating with the key/value cache gives the tokens a full forward pass would pick
        assert torch.equal(back(out[:, :-1]).logits[0, 4:].argmax(-1), out[0, 5:])
    assert out.shape == (1, 13)

@pytest.mark.parametrize("call, message", [
    (lambda t: prune_layers(t, []), "keep is empty"),
    (lambda t: prune_layers(t, range(5)), "has only 4"),
    (lambda t: prune_layers(t, [0, 7]), r"\[7\] are out of range: the teacher's blocks are 0 to 3"),
    (lambda t: prune_layers(t, [-1, 2]), "out of range"),
    (lambda t: prune_layers(t, [2, 2]), r"blocks \[2\] are listed more than once"),
    (lambda t: prune_mlp(t, mlp_importance(t, IDS), 0), "width must be between 1 and the teacher's MLP width 64, got 0"),
    (lambda t: prune_mlp(t, mlp_importance(t, IDS), 65), "width must be between 1 and the teacher's MLP width 64, got 65"),
    (lambda t: prune_mlp(t, torch.ones(4, 10), 5), r"needs \(4, 64\)"),
    (lambda t: prune_heads(t, head_importance(t, IDS), 4), r"use one of \[3, 6\]"),
    (lambda t: prune_heads(t, head_importance(t, IDS), 0), "does not keep whole groups"),
    (lambda t: prune_heads(t, torch.ones(4, 3), 3), "compute it on this model"),
    (lambda t: choose_layers(4, 5, "first"), "between 1 and the teacher's 4 blocks"),
    (lambda t: choose_layers(4, 0, "first"), "between 1 and the teacher's 4 blocks"),
    (lambda t: choose_layers(4, 2, "importance"), "needs one score per block"),
    (lambda t: choose_layers([1, 2], 1, "by_magic"), "unknown strategy 'by_magic'"),
])
def test_bad_shapes_fail_in_one_clear_line(call, message):
    with pytest.raises(ValueError, match=message) as e: call(llama())
    assert "\n" not in str(e.value)

def test_unsupported_models_and_gpt2_heads_fail_clearly():
    with pytest.raises(ValueError, match="cannot be pruned here: distill_edu prunes Llama-family"): prune_layers(torch.nn.Linear(2, 2), [0])
    with pytest.raises(ValueError, match="GPT-2's heads cannot be pruned"): prune_heads(gpt2(), torch.ones(4, 4), 2)
    g = GPT2LMHeadModel(GPT2Config(vocab_size=11, n_embd=8, n_layer=2, n_head=2, scale_attn_by_inverse_layer_idx=True))
    with pytest.raises(ValueError, match="scale_attn_by_inverse_layer_idx=False"): prune_layers(g, [1])

def test_choose_layers_strategies():
    assert choose_layers(30, 15, "every_other") == [0, 2, 4, 6, 8, 10, 12, 14, 17, 19, 21, 23, 25, 27, 29]
    assert choose_layers(30, 16, "first") == list(range(16)) and choose_layers(30, 16, "last") == list(range(14, 30))
    assert choose_layers([0.3, 0.1, 0.9, 0.2], 2, "importance") == [0, 2]
    assert choose_layers(30, 1, "every_other") == [0] and choose_layers(30, 30, "every_other") == list(range(30))
