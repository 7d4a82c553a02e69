"""The bundled offline teacher, SmolLM2-135M, end to end: load, vocabulary, English generation, held-out perplexity."""
import math, re
import pytest, torch
from distill_edu.models import load_teacher, load_tokenizer, generate_response, text_loss, document_separator, count_parameters
from distill_edu.data import read_reviews, split_reviews, clean_review, token_stream
from distill_edu.resources import imdb_path

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def smol():
    return load_tokenizer("smollm2-135m"), load_teacher("smollm2-135m", device="cpu")

def test_vocabulary_and_special_tokens(smol):
    tok, teacher = smol
    assert teacher.config.vocab_size == 49_152 == len(tok)
    assert (document_separator(tok), tok.eos_token_id) == (0, 2)
    assert count_parameters(teacher) == (134_515_008, 0) and not teacher.training

def test_generates_english(smol):
    tok, teacher = smol
    torch.manual_seed(0)
    prompt = "Last night, I watched a great movie. It was"
    out = generate_response(prompt, tok, teacher, max_new_tokens=30)
    assert out.startswith(prompt)
    words = re.findall(r"[a-z]+", out[len(prompt):].lower())
    common = {"the", "a", "and", "of", "to", "it", "was", "is", "i", "in", "that", "with", "movie", "film", "about"}
    assert len(words) >= 10 and sum(w in common for w in words) >= 3, out

def test_finite_perplexity_on_held_out_reviews(smol):
    path = imdb_path()
    if path is None or not path.exists():
        pytest.skip("no local IMDB reviews: ../shared/data/imdb is absent and DISTILL_EDU_IMDB is not set")
    tok, teacher = smol
    _, valid = split_reviews(read_reviews(path, n=2_000))
    r = text_loss(teacher, tok, [clean_review(t) for t in valid[:16]], max_tokens=128)
    assert math.isfinite(r["ppl"]) and 5 < r["ppl"] < 200, r
    assert 0.3 < r["bpc"] < 3, r

def test_token_stream_with_smollm2_tokenizer(smol):
    tok, _ = smol
    docs = ["Last night, I watched a great movie.", "Tom Hanks<br />was great."]
    s = token_stream(docs, tok, cache=False, progress=False)
    want = tok(docs[0], add_special_tokens=False)["input_ids"] + [0] + tok("Tom Hanks was great.", add_special_tokens=False)["input_ids"] + [0]
    assert s.dtype.name == "uint16" and s.tolist() == want
