"The demo path of `distill-edu train`: a distilled and a hard-label student side by side, a comparison table, phase times; the hard-label run never asks the teacher."
import pandas as pd, pytest
import distill_edu.cli as cli
from distill_edu.cli import main
from test_cli import tiny, args   # the tiny teacher, corpus and common options

def test_demo_compares_distilled_and_hard_label(tiny, capsys, monkeypatch):
    teacher_calls, runs = [0], []
    real_load, real_distill = cli.load_teacher, cli.distill
    def load_counted(*a, **k):
        t = real_load(*a, **k)
        t.register_forward_hook(lambda *_: teacher_calls.__setitem__(0, teacher_calls[0] + 1))
        return t
    def distill_spy(student, source, windows, criterion, **k):
        asked, before = [0], teacher_calls[0]
        def counted(ids, widx):
            asked[0] += 1
            return source(ids, widx)
        res = real_distill(student, counted, windows, criterion, **k)
        runs.append({"needs_teacher": criterion.needs_teacher, "asked": asked[0], "teacher": teacher_calls[0] - before,
                     "steps": len(res.history), "first_loss": res.history.loss.iloc[0]})
        return res
    monkeypatch.setattr(cli, "load_teacher", load_counted)
    monkeypatch.setattr(cli, "distill", distill_spy)
    out = tiny/"demo"
    assert main(["train", *args(tiny, "--batch-size", "2", "--max-steps", "4", "--stride", "8", "--out", str(out))]) == 0
    text = capsys.readouterr().out
    assert [r["needs_teacher"] for r in runs] == [True, False]        # distilled first, then the hard-label twin
    assert runs[0]["asked"] == runs[0]["steps"] == 4                   # the distilled run reads the cache every step ...
    assert runs[1]["asked"] == 0 and runs[1]["teacher"] == 0           # ... the hard-label run never asks the teacher
    assert runs[1]["steps"] == 4
    t = pd.read_csv(out/"comparison.csv", index_col=0)
    assert list(t.columns) == ["hard-label", "distilled", "difference %"] and len(t) == 3
    for metric in t.index: assert metric in text                        # the table is printed, both rows ...
    assert "hard-label" in text and "distilled" in text and "difference %" in text
    assert "phase times" in text
    for phase in ("tokenizer load", "teacher load", "tokenizing", "teacher cache fill", "training: distilled",
                  "training: hard-label", "evaluation", "samples"):
        assert phase in text, phase
    for f in ("curves.png", "history.csv", "evals.csv", "samples.csv", "checkpoint.pt", "hard-label/history.csv"):
        assert (out/f).exists(), f
    assert str(out/"curves.png") in text

def test_demo_options_override(tiny, capsys):
    "An explicit --alpha 1 is the hard-label run itself: no comparison; --no-hard-baseline trains one student."
    assert main(["train", *args(tiny, "--batch-size", "2", "--max-steps", "2", "--stride", "8", "--alpha", "1", "--out", str(tiny/"a1"))]) == 0
    text = capsys.readouterr().out
    assert "alpha = 1 is the hard-label run" in text and not (tiny/"a1"/"comparison.csv").exists()
    assert main(["train", *args(tiny, "--batch-size", "2", "--max-steps", "2", "--stride", "8", "--no-hard-baseline", "--out", str(tiny/"one"))]) == 0
    assert not (tiny/"one"/"comparison.csv").exists() and "phase times" in capsys.readouterr().out
