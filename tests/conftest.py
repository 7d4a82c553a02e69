"Shared test helpers: the tiny random GPT-2 every cross-cutting test trains or distils."
import pytest, torch
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
