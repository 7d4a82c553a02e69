"""`distill-edu ... --student pruned`: a student cut out of the teacher trains (distilled and hard-label twin, sparse cache,
on-policy, sweep), resumes exactly, is evaluated and generates; bad shapes are one line. A tiny Llama teacher of 4 blocks."""
import pandas as pd, pytest, torch
from transformers import LlamaConfig, LlamaForCausalLM
from distill_edu.cli import main
from distill_edu.checkpoint import load_checkpoint
from conftest import tiny_cli_workspace
from test_cli_errors import run_refused

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    "A tiny random Llama teacher (4 blocks, MLP width 32) with the GPT-2 tokenizer, and a small JSON-lines corpus."
    d = tmp_path_factory.mktemp("cli_pruned")
    mp = pytest.MonkeyPatch()
    mp.setenv("DISTILL_EDU_CACHE", str(d/"cache"))
    tok, _ = tiny_cli_workspace(d)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=4, num_attention_heads=2,
                         num_key_value_heads=1, max_position_embeddings=64, tie_word_embeddings=True,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    LlamaForCausalLM(config).save_pretrained(d/"llama")
    tok.save_pretrained(d/"llama")
    yield d
    mp.undo()

BATCH = ("--batch-size", "2")   # train and sweep only

def args(d, *extra):
    "A tiny pruned run: the Llama teacher cut to 2 of its 4 blocks, 16-token windows, the demo mode's twin and sparse cache."
    return ["--teacher", str(d/"llama"), "--data", str(d/"reviews.jsonl"), "--mode", "demo", "--context-size", "16", "--stride", "8",
            "--device", "cpu", "--no-progress", "--eval-windows", "4", "--student", "pruned",
            "--keep-layers", "2", *extra]

def test_pruned_demo_trains_the_twin_and_reports_its_size(tiny, capsys):
    out = tiny/"demo"
    assert main(["train", *args(tiny, *BATCH, "--max-steps", "3", "--out", str(out))]) == 0
    text = capsys.readouterr().out
    assert "student: the teacher's blocks [" in text and "(by block_influence)" in text and "of the teacher's" in text
    assert "teacher cache:" in text and "held-out perplexity / the teacher's: hard-label" in text
    table = pd.read_csv(out/"comparison.csv", index_col=0)
    assert list(table.columns) == ["hard-label", "distilled", "difference %"]
    student = LlamaForCausalLM.from_pretrained(tiny/"llama")
    student.config.num_hidden_layers = 2
    student = LlamaForCausalLM(student.config)
    load_checkpoint(out/"checkpoint.pt", student)            # the checkpoint is an ordinary 2-block Llama
    samples = pd.read_csv(out/"samples.csv")
    assert set(samples.student) == {"untrained", "distilled", "hard-label"}

def test_pruned_checkpoint_resumes_exactly(tiny, capsys):
    straight, split = tiny/"straight", tiny/"split"
    common = ("--no-hard-baseline", "--prune-by", "kl_increase", "--mlp-hidden", "24")
    assert main(["train", *args(tiny, *BATCH, *common, "--max-steps", "4", "--out", str(straight))]) == 0
    assert main(["train", *args(tiny, *BATCH, *common, "--max-steps", "2", "--out", str(split))]) == 0
    assert main(["train", *args(tiny, *BATCH, *common, "--max-steps", "4", "--out", str(split), "--resume", str(split/"checkpoint.pt"))]) == 0
    capsys.readouterr()
    a, b = (torch.load(p/"checkpoint.pt", weights_only=True) for p in (straight, split))
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])     # bit for bit, on the same machine
    assert pd.read_csv(split/"history.csv").loss.tolist() == pd.read_csv(straight/"history.csv").loss.tolist()

def test_pruned_evaluate_generate_sweep_on_policy(tiny, capsys):
    out = tiny/"one"
    assert main(["train", *args(tiny, *BATCH, "--no-hard-baseline", "--max-steps", "1", "--out", str(out))]) == 0
    assert main(["evaluate", str(out/"checkpoint.pt"), *args(tiny, "--out", str(tiny/"ev"))]) == 0
    assert main(["generate", str(out/"checkpoint.pt"), *args(tiny, "--max-new-tokens", "3", "--prompt", "The movie")]) == 0
    assert "student: 'The movie" in capsys.readouterr().out
    assert main(["sweep", *args(tiny, *BATCH, "--alphas", "0,1", "--soft-losses", "kld", "--max-steps", "1", "--out", str(tiny/"sweep"))]) == 0
    assert len(pd.read_csv(tiny/"sweep"/"sweep.csv").run.unique()) == 2
    assert main(["train", *args(tiny, *BATCH, "--on-policy", "0.5", "--max-new-tokens", "4", "--prompt-tokens", "8", "--no-hard-baseline",
                                "--max-steps", "1", "--out", str(tiny/"onp"))]) == 0
    assert main(["train", *args(tiny, *BATCH, "--teacher", str(tiny/"teacher"), "--keep-layers", "1", "--no-hard-baseline",
                                "--max-steps", "1", "--out", str(tiny/"gpt2"))]) == 0   # a GPT-2 teacher is cut the same way

@pytest.mark.parametrize("extra, word", [
    (["--keep-layers", "5"], "--keep-layers 5: the teacher has 4 blocks; keep 1 to 4"),
    (["--n-layer", "2"], "--n-layer: not an option of the pruned student"),
    (["--mlp-hidden", "33"], "the teacher's MLPs have 32 hidden neurons"),
    (["--prune-by", "random"], "invalid choice"),
])
def test_bad_shapes_are_one_line(tiny, capfd, extra, word):
    line = run_refused(["train", *args(tiny, *BATCH, "--out", str(tiny/"bad")), *extra], capfd)
    assert word in line, line

def test_pruned_options_need_the_pruned_student(tiny, capfd):
    argv = ["train", "--teacher", str(tiny/"llama"), "--data", str(tiny/"reviews.jsonl"), "--keep-layers", "2", "--context-size", "16", "--no-progress"]
    assert "--keep-layers: not an option of the gpt2 student; add --student pruned" in run_refused(argv, capfd)
    argv = ["train", "--teacher", str(tiny/"llama"), "--data", str(tiny/"reviews.jsonl"), "--student", "pruned", "--context-size", "16", "--no-progress"]
    assert "--student pruned needs --keep-layers N" in run_refused(argv, capfd)
