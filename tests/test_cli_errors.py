"Every documented bad input to `distill-edu`: a non-zero exit, exactly one line on stderr, no traceback, and no checkpoint touched."
import hashlib, json, random, re, warnings, pytest, torch
from pathlib import Path
from transformers import GPT2Config, GPT2LMHeadModel
from distill_edu.cli import main
from distill_edu.checkpoint import save_checkpoint
from conftest import tiny_cli_workspace

N_POSITIONS = 64   # the tiny teacher's context: --context-size above it is a bad input
# random bytes on which torch.load raises UnpicklingError (most do), IndexError, KeyError, UnicodeDecodeError
GARBAGE = (0, 2, 20, 195)

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    "A tiny random teacher folder, good and bad review files, a real checkpoint (one training step) and a foreign one."
    d = tmp_path_factory.mktemp("cli_errors")
    mp = pytest.MonkeyPatch()   # module-scoped: undone after the module's tests
    mp.setenv("DISTILL_EDU_CACHE", str(d/"cache"))
    tok, lines = tiny_cli_workspace(d, n_reviews=100, words=40, n_positions=N_POSITIONS)
    (d/"malformed.jsonl").write_text("\n".join(lines[:3] + ['{"text": "an unterminated review'] + lines[3:6]) + "\n")
    (d/"empty.jsonl").write_text("")
    (d/"no_text.jsonl").write_text("\n".join(json.dumps({"review": json.loads(l)["text"]}) for l in lines) + "\n")
    (d/"latin1.jsonl").write_bytes("\n".join(lines[:5] + ['{"text": "un film tr\xe8s r\xe9ussi"}']).encode("latin-1") + b"\n")
    (d/"empty_folder").mkdir()
    for seed in GARBAGE: (d/f"garbage{seed}.pt").write_bytes(random.Random(seed).randbytes(4096))
    torch.manual_seed(1)   # a real distill_edu checkpoint, but of a student with another shape (n_embd 8, not 16)
    save_checkpoint(d/"foreign.pt", GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=8, n_layer=1, n_head=2, n_positions=16)))
    assert main(["train", *args(d, "--batch-size", "2", "--max-steps", "1", "--out", str(d/"run"))]) == 0
    assert (d/"run"/"checkpoint.pt").is_file()
    yield d
    mp.undo()

def args(d, *extra):
    "A tiny run: the tiny teacher, the good reviews, 16-token windows, a 1-layer student on the CPU."
    return ["--teacher", str(d/"teacher"), "--data", str(d/"reviews.jsonl"), "--mode", "demo", "--context-size", "16",
            "--stride", "8", "--device", "cpu", "--no-progress", "--eval-windows", "2", "--n-embd", "16", "--n-layer", "1",
            "--n-head", "2", *extra]

def digests(folder:Path)->dict:
    "SHA-256 of every file in `folder`, by name."
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}

BAR = re.compile(r"\d+%\|")   # a tqdm progress bar ("Loading weights: 100%|####| 16/16"): progress, not the error report

def run_refused(argv, capfd, bars_allowed=True)->str:
    "Run `main(argv)`; check a non-zero exit, one non-empty stderr line (Python warnings count) and no traceback; return the line."
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")    # what a user's terminal shows
        try: rc = main(argv)
        except SystemExit as e: rc = e.code
        except Exception as e: pytest.fail(f"{type(e).__name__} escaped main() (the user sees a traceback): {e}")
    err = capfd.readouterr().err
    lines = [l for l in err.splitlines() if l.strip() and not (bars_allowed and BAR.search(l))]
    lines += [f"{w.category.__name__}: {w.message}" for w in caught]
    assert rc not in (0, None), f"exit status {rc!r} for a refused command"
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"{len(lines)} lines on stderr:\n" + "\n".join(lines)
    return lines[0]

def case(name, command, extra, word):
    "A bad input: its id, the command, extra arguments ({d}: the fixture's folder) and a word the error line must contain."
    return pytest.param(command, extra, word, id=name)

CASES = [
    case("malformed-json", "train", ["--data", "{d}/malformed.jsonl"], "line 4"),
    case("empty-jsonl", "train", ["--data", "{d}/empty.jsonl"], "no reviews"),
    case("jsonl-without-text", "train", ["--data", "{d}/no_text.jsonl"], "'text'"),
    case("non-utf8", "train", ["--data", "{d}/latin1.jsonl"], "utf-8"),
    case("empty-folder", "train", ["--data", "{d}/empty_folder"], "empty_folder"),
    *[case(f"garbage{g}-checkpoint-resume", "train", ["--resume", f"{{d}}/garbage{g}.pt"], f"garbage{g}.pt") for g in GARBAGE],
    *[case(f"garbage{g}-checkpoint-evaluate", "evaluate", [f"{{d}}/garbage{g}.pt"], f"garbage{g}.pt") for g in GARBAGE],
    case("garbage2-checkpoint-generate", "generate", ["{d}/garbage2.pt", "--max-new-tokens", "2", "--prompt", "The movie"], "garbage2.pt"),
    case("foreign-checkpoint-resume", "train", ["--resume", "{d}/foreign.pt"], "does not belong to this model"),
    case("foreign-checkpoint-evaluate", "evaluate", ["{d}/foreign.pt"], "does not belong to this model"),
    case("foreign-checkpoint-generate", "generate", ["{d}/foreign.pt", "--max-new-tokens", "2", "--prompt", "The movie"], "does not belong to this model"),
    case("resume-with-other-shape", "train", ["--n-embd", "32", "--resume", "{d}/run/checkpoint.pt"], "does not belong to this model"),
    case("alpha-above-1", "train", ["--alpha", "1.5"], "alpha"),
    case("alpha-below-0", "sweep", ["--alphas", "0,-0.5"], "alpha"),
    case("temperature-zero", "train", ["--temperature", "0"], "temperature"),
    case("temperature-negative", "sweep", ["--temperature", "-1"], "temperature"),
    case("unknown-soft-loss", "train", ["--soft-loss", "kl"], "soft loss"),
    case("temperatures-with-zero", "sweep", ["--temperatures", "1,0"], "temperature"),
    case("eval-skip-negative", "evaluate", ["--eval-skip", "-1"], "--eval-skip"),
    case("eval-skip-past-held-out", "evaluate", ["--eval-skip", "100000"], "held-out windows"),
    case("second-checkpoint-missing", "evaluate", ["{d}/run/checkpoint.pt", "{d}/run/nonexistent.pt"], "nonexistent.pt"),
    case("context-longer-than-teacher", "train", ["--context-size", str(2 * N_POSITIONS)], str(N_POSITIONS)),
]

@pytest.mark.parametrize("command, extra, word", CASES)
def test_bad_input_one_line_nothing_lost(tiny, capfd, command, extra, word):
    "Each bad input is refused with one line naming the problem, and the existing run's files keep their bytes."
    before = digests(tiny/"run")
    argv = [command, *args(tiny, "--out", str(tiny/"run")), *[x.format(d=tiny) for x in extra]]
    line = run_refused(argv, capfd)
    assert word.lower() in line.lower(), line
    assert digests(tiny/"run") == before, "a refused command changed the existing run's files"

def test_unwritable_out(tiny, capfd):
    "--out where no folder can be created (under /proc): one line, not a FileNotFoundError traceback."
    line = run_refused(["train", *args(tiny, "--out", "/proc/distill_edu_no_such_dir/run")], capfd)
    assert "/proc/distill_edu_no_such_dir" in line

def test_no_progress_means_only_the_error(tiny, capfd):
    "With --no-progress a refused command prints its one line and nothing else, not even a progress bar."
    run_refused(["train", *args(tiny, "--out", str(tiny/"run"), "--data", str(tiny/"empty.jsonl"))], capfd, bars_allowed=False)
