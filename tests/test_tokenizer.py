"""The offline GPT-2 tokenizer is byte-identical to the hub's."""
from distill_edu.models import load_tokenizer

def test_gpt2_tokenizer_offline():
    tok = load_tokenizer("gpt2")
    assert tok("Last night, I watched a great movie")["input_ids"] == [5956, 1755, 11, 314, 7342, 257, 1049, 3807]
    assert tok.eos_token_id == 50256
    assert tok.decode([5956, 1755]) == "Last night"
