"""distill_edu.models: tokenizers, offline teachers, the student, parameter counts, vocabulary check, generation."""
import time
import pytest, torch
from transformers import GPT2Config, GPT2LMHeadModel
from distill_edu.models import (load_tokenizer, load_teacher, student_config, make_student, count_parameters,
                                check_vocab_alignment, generate_response, pick_device, max_positions, vocab_size,
                                document_separator, hub_reachable, freeze)

GPT2_SIZES = {"gpt2": (768, 12, 12), "gpt2-medium": (1024, 24, 16), "gpt2-large": (1280, 36, 20), "gpt2-xl": (1600, 48, 25)}

def gpt2_params(d, L, V=50257, P=1024):
    "GPT-2's parameter count from its shapes, written out by hand: embeddings, L blocks, final layer norm (head tied)."
    block = 2*2*d + (d*3*d + 3*d) + (d*d + d) + (d*4*d + 4*d) + (4*d*d + d)
    return V*d + P*d + L*block + 2*d

@pytest.fixture(scope="module")
def tok(): return load_tokenizer("gpt2")

def test_parameter_counts_on_meta():
    t = make_student(50257, device="meta", n_embd=768, n_layer=12, n_head=12, n_positions=1024)
    s = make_student(50257, device="meta")
    assert next(s.parameters()).device.type == "meta"
    assert count_parameters(t) == (124_439_808, 124_439_808)
    assert count_parameters(s) == (16_058_112, 16_058_112)
    assert round(100 * 16_058_112 / 124_439_808, 2) == 12.90
    for d, L, H in GPT2_SIZES.values():
        m = make_student(50257, device="meta", n_embd=d, n_layer=L, n_head=H, n_positions=1024)
        assert count_parameters(m)[0] == gpt2_params(d, L)
    assert count_parameters(s)[0] == gpt2_params(256, 4, P=128)

def test_trainable_count_after_freeze():
    m = make_student(100, n_embd=16, n_layer=1, n_head=2, n_positions=16)
    total, trainable = count_parameters(m)
    assert total == trainable > 0
    freeze(m)
    assert count_parameters(m) == (total, 0) and not m.training

def test_student_config_from_anything(tok):
    base = student_config(50257)
    assert isinstance(base, GPT2Config) and (base.n_embd, base.n_layer, base.n_head, base.n_positions) == (256, 4, 4, 128)
    teacher = make_student(1000, device="meta", n_embd=32, n_layer=1, n_head=2)
    assert student_config(tok).vocab_size == 50257 and student_config(tok).eos_token_id == 50256
    assert student_config(teacher).vocab_size == 1000 == student_config(teacher.config).vocab_size
    assert student_config(49152, n_embd=64, n_head=8).n_embd == 64
    assert student_config(100).eos_token_id is None
    with pytest.raises(ValueError, match="divide"): student_config(100, n_embd=30, n_head=4)
    with pytest.raises(TypeError): student_config("gpt2")
    with pytest.raises(ValueError): student_config(0)

def test_make_student_seed_and_config():
    a, b = (make_student(100, seed=1, n_embd=16, n_layer=1, n_head=2) for _ in range(2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = make_student(config=a.config)
    assert c.config.to_dict() == a.config.to_dict()

def test_max_positions_and_vocab_size(tok):
    m = make_student(100, n_embd=16, n_layer=1, n_head=2, n_positions=48)
    assert max_positions(m) == 48 == max_positions(m.config)
    assert vocab_size(m) == 100 and vocab_size(tok) == 50257 and vocab_size(m.config) == 100

def test_vocab_alignment(tok):
    t = make_student(50257, device="meta", n_embd=64, n_layer=1, n_head=2)
    assert check_vocab_alignment(t, make_student(50257, device="meta"), tok) == 50257
    with pytest.raises(ValueError, match="49,152"): check_vocab_alignment(t, make_student(49152, device="meta"), tok)
    small = make_student(1000, device="meta", n_embd=16, n_layer=1, n_head=2)
    with pytest.raises(ValueError, match="tokenizer"): check_vocab_alignment(small, small, tok)

def test_generation(tok):
    m = make_student(tok, seed=0, n_embd=32, n_layer=1, n_head=2, n_positions=64)
    m.train()
    prompt = "Last night, I watched a great movie"
    torch.manual_seed(0); a = generate_response(prompt, tok, m, max_new_tokens=8)
    torch.manual_seed(0); b = generate_response(prompt, tok, m, max_new_tokens=8)
    assert a == b and a.startswith(prompt) and len(a) > len(prompt)
    g1 = generate_response(prompt, tok, m, max_new_tokens=5, do_sample=False)
    g2 = generate_response(prompt, tok, m, max_new_tokens=5, do_sample=False)
    assert g1 == g2 and m.training          # greedy is deterministic (no dropout); the training mode is restored
    long = generate_response("word " * 500, tok, m, max_new_tokens=10)   # cut to fit the 64-token context
    assert isinstance(long, str)
    with pytest.raises(ValueError, match="max_new_tokens"): generate_response(prompt, tok, m, max_new_tokens=64)

def test_pick_device(monkeypatch):
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("DISTILL_EDU_DEVICE", "meta")
    assert pick_device() == torch.device("meta")
    monkeypatch.delenv("DISTILL_EDU_DEVICE")
    assert pick_device().type in ("cuda", "mps", "cpu")

def test_teacher_from_folder_is_frozen(tmp_path):
    GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=16, n_embd=16, n_layer=1, n_head=2, bos_token_id=0, eos_token_id=0)).save_pretrained(tmp_path)
    t = load_teacher(str(tmp_path), device="cpu")
    assert not t.training and count_parameters(t)[1] == 0
    t16 = load_teacher(tmp_path, device="cpu", dtype=torch.bfloat16)
    assert next(t16.parameters()).dtype == torch.bfloat16

def test_teacher_errors_fail_fast(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not hub_reachable()
    t0 = time.time()
    with pytest.raises(OSError, match="smollm2-135m"): load_teacher("some-org/some-model-that-is-not-cached")
    assert time.time() - t0 < 10
    with pytest.raises(OSError, match="unreachable"): load_tokenizer("some-org/some-tokenizer-that-is-not-cached")
    with pytest.raises(ValueError, match="Accepted"): load_teacher("not a model name!")
    with pytest.raises(TypeError): load_teacher(42)

def test_document_separator(tok):
    assert document_separator(tok) == 50256 == tok.eos_token_id

def test_generate_response_passes_an_attention_mask(tok):
    "No 'We strongly recommend passing in an attention_mask' warning, even when the prompt ends with the pad (= eos) token."
    import logging, warnings
    m = make_student(tok, seed=0, n_embd=16, n_layer=1, n_head=2, n_positions=64)
    prompt = "The movie" + tok.eos_token                 # pad == eos for GPT-2: a padded-looking prompt
    ids = tok(prompt, return_tensors="pt")["input_ids"]
    assert ids[0, -1].item() == m.config.pad_token_id
    def transformers_messages(f):
        "What `f()` sends to transformers' loggers and to Python warnings (warning_once's memory is cleared first)."
        logging.Logger.warning_once.cache_clear()
        records = []
        class Keep(logging.Handler):
            def emit(self, r): records.append(r.getMessage())
        h, lg = Keep(level=logging.WARNING), logging.getLogger("transformers")
        lg.addHandler(h)
        try:
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always"); f()
        finally: lg.removeHandler(h)
        return " ".join(records + [str(x.message) for x in w])
    torch.manual_seed(0); was_training = m.training
    assert "attention_mask" not in transformers_messages(lambda: generate_response(prompt, tok, m, max_new_tokens=4))
    assert m.config.pad_token_id == tok.eos_token_id and m.training == was_training   # the model is left as it was
    # the check can fail: the same prompt without a mask draws the warning
    assert "attention_mask" in transformers_messages(lambda: m.generate(ids, max_new_tokens=4, pad_token_id=tok.eos_token_id))
