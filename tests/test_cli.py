"The `distill-edu` command: bad options fail fast with a clear message; train/evaluate/generate/sweep run end to end on a tiny teacher."
import json, subprocess, sys, pytest
from distill_edu.cli import main
from distill_edu.config import RUN_MODES
from conftest import tiny_cli_workspace

@pytest.mark.parametrize("argv, message", [
    (["train", "--teacher", "no such teacher!"], "unknown teacher"),
    (["train", "--data", "/nonexistent/reviews.jsonl"], "no such file"),
    (["train", "--alpha", "1.5"], "alpha must be a number in [0, 1]"),
    (["train", "--alpha", "-0.1"], "alpha"),
    (["train", "--temperature", "0"], "temperature must be a finite number > 0"),
    (["train", "--temperature", "-2"], "temperature"),
    (["train", "--soft-loss", "kl"], "unknown soft loss 'kl'"),
    (["sweep", "--soft-losses", "kld,mes"], "unknown soft loss 'mes'"),
    (["sweep", "--alphas", "0,2"], "alpha"),
    (["train", "--batch-size", "0"], "positive integer"),
    (["train", "--resume", "/nonexistent/checkpoint.pt"], "no such file"),
    (["evaluate", "/nonexistent/checkpoint.pt"], "no such file"),
    (["train", "--mode", "huge"], "invalid choice"),
    ([], "required"),
])
def test_bad_options(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err

def test_console_script_exit_status():
    p = subprocess.run([sys.executable, "-c", "import sys; from distill_edu.cli import main; sys.exit(main())", "train", "--alpha", "2"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "alpha" in p.stderr

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    "A tiny random teacher saved as a folder with the GPT-2 tokenizer, and a small JSON-lines corpus; caches in a temporary folder."
    d = tmp_path_factory.mktemp("cli")
    mp = pytest.MonkeyPatch()   # module-scoped: undone after the module's tests
    mp.setenv("DISTILL_EDU_CACHE", str(d/"cache"))
    tiny_cli_workspace(d)
    yield d
    mp.undo()

def args(d, *extra):
    return ["--teacher", str(d/"teacher"), "--data", str(d/"reviews.jsonl"), "--mode", "demo", "--context-size", "16",
            "--device", "cpu", "--no-progress", "--eval-windows", "4", "--n-embd", "16", "--n-layer", "1", "--n-head", "2", *extra]

def test_train_evaluate_generate_resume(tiny, capsys):
    out = tiny/"run"
    # one student (the demo's hard-label twin is tested in test_demo.py)
    assert main(["train", *args(tiny, "--batch-size", "2", "--max-steps", "3", "--stride", "8", "--no-hard-baseline", "--out", str(out))]) == 0
    text = capsys.readouterr().out
    for f in ("checkpoint.pt", "history.csv", "evals.csv", "samples.csv", "curves.png", "phases.csv"):
        assert (out/f).exists() and str(out/f) in text, f
    assert "Before training" in text and "loss: first" in text and "teacher cache:" in text   # demo mode: the sparse cache
    # resume continues the same run
    assert main(["train", *args(tiny, "--batch-size", "2", "--max-steps", "5", "--stride", "8", "--out", str(out),
                                "--resume", str(out/"checkpoint.pt"))]) == 0
    assert "resumed from" in capsys.readouterr().out
    import pandas as pd
    assert pd.read_csv(out/"history.csv").step.tolist() == [1, 2, 3, 4, 5]
    # a checkpoint from another model (other context size: other position embeddings) is refused
    assert main(["train", *args(tiny, "--context-size", "32", "--resume", str(out/"checkpoint.pt"), "--out", str(tiny/"other"))]) == 2
    assert "does not belong to this model" in capsys.readouterr().err
    assert main(["evaluate", str(out/"checkpoint.pt"), *args(tiny, "--out", str(tiny/"ev"))]) == 0
    m = json.loads((tiny/"ev"/"eval.json").read_text())
    assert m["student_ppl"] > 1 and 0 <= m["top1"] <= 1 and m["kl"] >= 0
    assert main(["generate", str(out/"checkpoint.pt"), *args(tiny, "--max-new-tokens", "4", "--prompt", "The movie", "--out", str(tiny/"gen"))]) == 0
    text = capsys.readouterr().out
    assert "teacher: 'The movie" in text and "student: 'The movie" in text

def test_sweep(tiny, capsys):
    out = tiny/"sweep"
    assert main(["sweep", *args(tiny, "--batch-size", "4", "--max-steps", "2", "--alphas", "0.5,1", "--teacher-cache", "none",
                                "--out", str(out))]) == 0
    import pandas as pd
    df = pd.read_csv(out/"sweep.csv")
    T = RUN_MODES["demo"]["temperature"]   # no --temperature given: the mode's
    assert sorted(df.run.unique()) == sorted(f"alpha={a} {s} T={T:g}" for a in ("0.5", "1") for s in ("kld", "mse"))
    assert (out/"sweep.png").exists() and str(out/"sweep.csv") in capsys.readouterr().out
    phases = pd.read_csv(out/"phases.csv", index_col=0)
    assert {"tokenizing", "sweep runs (training and evaluation)", "total"} <= set(phases.index) and (phases.seconds >= 0).all()
    # the sparse cache only knows the KL soft loss: asking it for mse is refused with a clear message
    assert main(["sweep", *args(tiny, "--teacher-cache", "sparse", "--soft-losses", "kld,mse", "--out", str(tiny/"no"))]) == 2
    assert not (tiny/"no").exists()   # refused before anything was created
    assert "kld soft loss only" in capsys.readouterr().err

def test_sweep_temperatures_then_evaluate_on_other_windows(tiny, capsys):
    "A sweep over two temperatures keeps one checkpoint per trained run; `evaluate` scores several on windows training never evaluated."
    import pandas as pd
    out = tiny/"sweep-T"
    assert main(["sweep", *args(tiny, "--batch-size", "4", "--max-steps", "2", "--alphas", "0,1", "--soft-losses", "kld",
                                "--temperatures", "1,2", "--teacher-cache", "sparse", "--out", str(out))]) == 0
    df = pd.read_csv(out/"sweep.csv", keep_default_na=False).drop_duplicates("run").set_index("run")
    assert list(df.index) == ["alpha=0 kld T=1", "alpha=0 kld T=2", "alpha=1 kld T=1", "alpha=1 kld T=2"]
    assert df.loc["alpha=1 kld T=2", "shared"] == "alpha=1 kld T=1"        # the hard-label run is trained once
    ckpts = [out/"alpha0-kld-T1"/"checkpoint.pt", out/"alpha0-kld-T2"/"checkpoint.pt", out/"alpha1-kld-T1"/"checkpoint.pt"]
    assert all(c.is_file() for c in ckpts)
    capsys.readouterr()
    assert main(["evaluate", *map(str, ckpts), *args(tiny, "--eval-skip", "4", "--eval-windows", "3", "--out", str(tiny/"ev3"))]) == 0
    assert "after the first 4" in capsys.readouterr().out
    ev = pd.read_csv(tiny/"ev3"/"eval.csv")
    assert ev.checkpoint.tolist() == list(map(str, ckpts)) and (ev.eval_skip == 4).all()
    assert ev.tokens.nunique() == 1 and ev.teacher_ppl.nunique() == 1     # the same windows, the same teacher for every checkpoint
    assert ev.student_ppl.nunique() == 3
    # one checkpoint alone: the same numbers as in the three-checkpoint table (the memoised teacher changes nothing)
    assert main(["evaluate", str(ckpts[2]), *args(tiny, "--eval-skip", "4", "--eval-windows", "3", "--out", str(tiny/"ev1"))]) == 0
    one = json.loads((tiny/"ev1"/"eval.json").read_text())
    assert one["checkpoint"] == str(ckpts[2]) and abs(one["kl"] - ev.kl.iloc[2]) <= 1e-6 * max(1, abs(one["kl"]))
    # a window set after the first 4 differs from the first: the skip really moved the windows
    assert main(["evaluate", str(ckpts[2]), *args(tiny, "--eval-windows", "3", "--out", str(tiny/"ev0"))]) == 0
    assert json.loads((tiny/"ev0"/"eval.json").read_text())["teacher_ppl"] != one["teacher_ppl"]

def test_train_draws_no_attention_mask_warning(tiny, capsys):
    "Windows are never padded: every model call says so with an all-ones mask, so transformers has nothing to warn about."
    import logging
    said = []
    class Keep(logging.Handler):
        def emit(self, record): said.append(record.getMessage())
    handler, logger = Keep(level=logging.WARNING), logging.getLogger("transformers")
    logging.Logger.warning_once.cache_clear()
    logger.addHandler(handler)
    try:
        # stride 1: every token starts a window, so many windows start or end with the separator (= the pad id)
        argv = ["train", *args(tiny, "--batch-size", "8", "--max-steps", "6", "--stride", "1", "--no-hard-baseline",
                               "--teacher-cache", "none", "--out", str(tiny/"masked"))]
        assert main(argv) == 0
    finally: logger.removeHandler(handler)
    capsys.readouterr()
    assert not [m for m in said if "attention_mask" in m], said
