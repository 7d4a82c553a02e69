"""README.md and nbs/index.ipynb must tell a newcomer the same things."""
import json, re, shlex
import pytest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def _index_markdown() -> str:
    nb = json.loads((ROOT/"nbs"/"index.ipynb").read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")

def _lessons(text: str) -> list[str]:
    block = text.split("<!-- lessons:start -->")[1].split("<!-- lessons:end -->")[0]
    return [l.strip() for l in block.strip().splitlines() if l.strip()]

def _sh_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", text, flags=re.S)]

def test_lesson_lists_agree():
    readme, index = (ROOT/"README.md").read_text(encoding="utf-8"), _index_markdown()
    assert _lessons(readme) == _lessons(index)
    assert len(_lessons(readme)) >= 6

def test_commands_agree():
    readme, index = (ROOT/"README.md").read_text(encoding="utf-8"), _index_markdown()
    assert _sh_blocks(readme) == _sh_blocks(index)

def test_lessons_link_to_existing_notebooks():
    names = {re.sub(r"^\d+_", "", p.stem) for p in (ROOT/"nbs").glob("*.ipynb")}
    for line in _lessons((ROOT/"README.md").read_text(encoding="utf-8")):
        page = re.search(r"\]\(([^)]+)\.html\)", line).group(1)
        assert page in names, f"README links {page}.html but no notebook nbs/*{page}.ipynb exists"

def test_ci_runs_readme_commands():
    readme = (ROOT/"README.md").read_text(encoding="utf-8")
    ci = (ROOT/".ci"/"run").read_text(encoding="utf-8")
    install, test = _sh_blocks(readme)[0], _sh_blocks(readme)[-1]
    assert install in ci and test in ci

def _sync_readme():
    "scripts/sync_readme.py as a module (it is a script, not part of the package)."
    import importlib.util
    spec = importlib.util.spec_from_file_location("sync_readme", ROOT/"scripts"/"sync_readme.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

def test_readme_is_written_from_index():
    "README.md is exactly nbs/index.ipynb's markdown (one source); fix with `python scripts/sync_readme.py`."
    assert (ROOT/"README.md").read_text(encoding="utf-8") == _sync_readme().readme_text(ROOT), \
        "README.md differs from nbs/index.ipynb: edit the notebook, then run python scripts/sync_readme.py"

def test_nbdev_docs_leaves_readme_alone():
    "nbdev_docs renders README.md from `readme_nb` when that notebook is newer: settings.ini must name none that exists."
    from nbdev.config import get_config
    from nbdev.quarto import _doc_mtime_not_older
    cfg = get_config(path=ROOT)
    assert not (cfg.nbs_path/cfg.readme_nb).exists(), \
        f"settings.ini readme_nb = {cfg.readme_nb}: nbdev_docs would rewrite README.md from it with Quarto's gfm writer"
    assert _doc_mtime_not_older(ROOT/"README.md", cfg.nbs_path/cfg.readme_nb)  # nbdev_readme(chk_time=True) skips

def _mean_sd(cell: str) -> tuple:
    "('2604 ± 215' or '−18.6 ± 4.6') -> (mean text, sd text), with a typographic minus read as '-'."
    mean, sd = (part.strip().replace("−", "-").lstrip("+") for part in cell.split("±"))
    return mean, sd

def _decimals(number: str) -> int:
    return len(number.split(".")[1]) if "." in number else 0

@pytest.mark.parametrize("marker, folder", [("demo", "demo"), ("demo-pruned", "demo_pruned")])
def test_readme_demo_numbers_are_the_saved_results(marker, folder):
    "Every mean ± sd in a README demo table equals nbs/<folder>/summary.csv rounded as printed, over the seeds it names."
    import pandas as pd
    readme = (ROOT/"README.md").read_text(encoding="utf-8")
    block = readme.split(f"<!-- {marker}:start -->")[1].split(f"<!-- {marker}:end -->")[0].strip().splitlines()
    header, rows = block[0], [[c.strip() for c in r.strip("|").split("|")] for r in block[2:]]
    summary = pd.read_csv(ROOT/"nbs"/folder/"summary.csv").set_index("metric")
    seeds = sorted(pd.read_csv(ROOT/"nbs"/folder/"comparison.csv").seed.unique())
    assert f"seeds {', '.join(map(str, seeds))})" in header, f"the README names other seeds than the saved {seeds}"
    columns = [c.strip() for c in header.strip("|").split("|")][1:]
    assert {r[0] for r in rows} == set(summary.index), "the README's rows are not the saved metrics"
    for metric, *cells in rows:
        for column, cell in zip(columns, cells):
            mean, sd = _mean_sd(cell)
            saved = summary.loc[metric]
            assert saved[f"{column} count"] == len(seeds)
            for shown, value in ((mean, saved[f"{column} mean"]), (sd, saved[f"{column} std"])):
                assert float(shown) == round(value, _decimals(shown)), \
                    f"README {metric} / {column}: {shown} but the saved results give {value:.4f}"


def test_readme_pruned_demo_prose_is_the_saved_results():
    "The pruned demo's teacher perplexity, its ratios to the teacher, its wall times and its perplexity gaps, as the README states them."
    import pandas as pd
    readme = " ".join((ROOT/"README.md").read_text(encoding="utf-8").split())   # the prose wraps lines anywhere
    saved = ROOT/"nbs"/"demo_pruned"
    evals = pd.read_csv(saved/"evals.csv")
    last = evals[evals.step == evals.groupby(["seed", "run"]).step.transform("max")].set_index(["run", "seed"])
    teacher = last.loc["distilled"].teacher_ppl
    per_seed = [f"{t:.1f}" for t in teacher]
    assert f"is {teacher.mean():.1f} ± {teacher.std():.1f} ({', '.join(per_seed[:-1])} and {per_seed[-1]} for seeds 0, 1, 2" in readme
    ratio = last.student_ppl / last.teacher_ppl
    d, h = ratio.loc["distilled"], ratio.loc["hard-label"]
    assert f"at {d.mean():.2f} ± {d.std():.2f} × the teacher's perplexity (at most {d.max():.2f} ×" in readme
    assert f"the hard-label twin at {h.mean():.2f} ± {h.std():.2f} ×" in readme
    assert d.max() <= 3                                        # the bar: within 3 × the teacher in every seed
    gaps = pd.read_csv(saved/"comparison.csv").query("metric == 'held-out perplexity'")["difference %"]
    assert "(" + ", ".join(f"−{-g:.0f} %" for g in gaps) + ")" in readme
    phases = pd.read_csv(saved/"phases.csv")
    wall = phases[phases.phase == "command, start to exit"].seconds
    assert f"each seed took {wall.min():.1f} to {wall.max():.1f} s wall" in readme and wall.max() <= 240
