"Shared test helpers: the tiny random GPT-2 every cross-cutting test trains or distils."
import json, pytest, torch
from transformers import GPT2Config, GPT2LMHeadModel

def tiny_gpt2(seed:int=0, # seeds the initial weights
              n_embd:int=16, n_layer:int=1, n_positions:int=32, # the model's size
              vocab:int=97, # vocabulary size
              dropout:bool=True # False: no dropout, so two forward passes agree
             )->GPT2LMHeadModel:
    "A tiny random GPT-2 (two heads), seeded: a stand-in teacher or student that trains in milliseconds."
    torch.manual_seed(seed)
    off = {} if dropout else dict(resid_pdrop=0, embd_pdrop=0, attn_pdrop=0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_embd=n_embd, n_layer=n_layer, n_head=2, n_positions=n_positions, **off))

@pytest.fixture(scope="session")
def tiny_lm():
    "The `tiny_gpt2` factory, as a fixture."
    return tiny_gpt2

def tiny_cli_workspace(d, # the folder to fill
                       n_reviews:int=60, words:int=25, # the corpus: reviews and words per review
                       n_positions:int=64 # the teacher's context
                      )->tuple:
    "A tiny random GPT-2 teacher folder (with the GPT-2 tokenizer) and seeded JSON lines of movie words in `d`: (tokenizer, lines)."
    from distill_edu.models import load_tokenizer
    tok = load_tokenizer("gpt2")
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=8, n_layer=1, n_head=2, n_positions=n_positions)).save_pretrained(d/"teacher")
    tok.save_pretrained(d/"teacher")
    vocab = "the movie was great bad acting plot film story actor scene funny boring loved hated".split()
    g = torch.Generator().manual_seed(0)
    lines = [json.dumps({"text": " ".join(vocab[j] for j in torch.randint(0, len(vocab), (words,), generator=g))}) for _ in range(n_reviews)]
    (d/"reviews.jsonl").write_text("\n".join(lines) + "\n")
    return tok, lines
