"""The course website: sidebar in course order, every notebook placed, per-page title and description.

The site is rendered by Quarto from `_quarto.yml` (nbs/_quarto.yml is a symlink to it) and
nbs/sidebar.yml. Quarto cannot be installed here, so these tests check the configuration itself;
.ci/run renders every processed page with nbconvert and runs nbdev_docs where Quarto exists.
Notebooks are read from nbs/ at test time, so the tests follow notebooks as they are added.
"""
import json, re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/"nbs"

# The intended course order, section by section (the sidebar must be exactly this).
COURSE = {
    None: ["index.ipynb"],
    "Lessons": ["00_what_is_distillation.ipynb", "01_hard_vs_soft_labels.ipynb", "02_temperature.ipynb",
                "03_losses.ipynb", "04_kld_vs_mse.ipynb", "05_alpha.ipynb", "06_live_sliders.ipynb",
                "07_loss_engineering.ipynb"],
    "Data and models": ["09_resources.ipynb", "10_models.ipynb", "11_data.ipynb", "12_prune.ipynb", "13_checkpoint.ipynb",
                        "14_targets.ipynb", "15_sparse_targets.ipynb"],
    # the walkthrough uses the trainer, the evaluation, the teacher cache and the chunked loss: they come before it
    "Training machinery": ["20_train.ipynb", "21_evaluate.ipynb", "22_teacher_cache.ipynb", "23_chunked_loss.ipynb",
                           "25_sweep.ipynb", "26_evidence.ipynb"],
    "Walkthrough": ["30_walkthrough.ipynb", "31_when_distillation_pays.ipynb", "32_on_policy.ipynb",
                    "33_prune_then_distil.ipynb"],
    "Library reference": ["24_performance.ipynb", "39_config.ipynb", "40_cli.ipynb"],
}
LESSONS = COURSE["Lessons"]

# Notebooks in nbs/ that are deliberately not on the website, each with its reason.
EXCLUDED: dict[str, str] = {
    # "name.ipynb": "why it is not a page of the course",
}

def sidebar() -> list:
    return yaml.safe_load((NBS/"sidebar.yml").read_text(encoding="utf-8"))["website"]["sidebar"]["contents"]

def sidebar_sections() -> dict:
    "The sidebar as {section title (None for top-level pages): [notebook, ...]}, in order."
    res = {}
    for item in sidebar():
        if isinstance(item, str): res.setdefault(None, []).append(item)
        else: res[item["section"]] = [c if isinstance(c, str) else c["href"] for c in item["contents"]]
    return res

def sidebar_pages() -> list[str]:
    return [p for pages in sidebar_sections().values() for p in pages]

def notebooks() -> list[str]:
    "The notebooks nbdev renders: nbs/**/*.ipynb, skipping names and folders that start with _ or . (as nbdev does)."
    return sorted(str(p.relative_to(NBS)) for p in NBS.rglob("*.ipynb")
                  if not any(part[0] in "_." for part in p.relative_to(NBS).parts))

def page_name(nb: str) -> str:
    "The page a notebook becomes on the site: its name without the numeric prefix."
    return re.sub(r"^\d+_", "", Path(nb).stem)

def title_and_description(nb: str) -> tuple:
    "The first markdown cell's '# Title' and '> description' (what nbdev turns into the page's front matter)."
    cells = json.loads((NBS/nb).read_text(encoding="utf-8"))["cells"]
    first = next((c for c in cells if c["cell_type"] == "markdown"), None)
    src = "".join(first["source"]) if first else ""
    title = re.match(r"\s*#\s+(\S.*)", src)
    desc = re.search(r"^>\s*(\S.*)$", src, flags=re.M)
    return (title.group(1).strip() if title else None), (desc.group(1).strip() if desc else None)

def test_sidebar_is_the_course_order():
    "Landing page, lessons, data and models, walkthrough, library reference: exactly COURSE, in order."
    assert list(sidebar_sections().items()) == list(COURSE.items())

def test_lessons_in_order():
    "The lessons come first, in their numeric order, right after the landing page."
    pages = sidebar_pages()
    assert pages[0] == "index.ipynb"
    assert pages[1:1 + len(LESSONS)] == LESSONS == sorted(LESSONS)

def test_sidebar_pages_exist():
    "Every page the sidebar lists is a notebook in nbs/ (fails until every planned notebook has landed)."
    missing = [p for p in sidebar_pages() if not (NBS/p).exists()]
    assert not missing, f"nbs/sidebar.yml lists notebooks that do not exist (yet): {missing}"

def test_every_notebook_is_in_the_sidebar_or_excluded():
    listed, nbs = set(sidebar_pages()), notebooks()
    orphans = [nb for nb in nbs if nb not in listed and nb not in EXCLUDED]
    assert not orphans, (f"notebooks neither in nbs/sidebar.yml nor in EXCLUDED (tests/test_site.py): {orphans}; "
                         "add each to its section of the sidebar, or exclude it with a reason")
    both = [nb for nb in EXCLUDED if nb in listed]
    assert not both, f"notebooks both in the sidebar and excluded: {both}"
    assert all(reason.strip() for reason in EXCLUDED.values()), "every exclusion needs a reason"
    assert len(set(sidebar_pages())) == len(sidebar_pages()), "a notebook is listed twice"

def test_page_names_are_unique():
    "Quarto drops the numeric prefix from page URLs (02_temperature.ipynb -> temperature.html): no two may clash."
    names = [page_name(nb) for nb in notebooks()]
    assert len(names) == len(set(names)), f"two notebooks become the same page: {sorted(names)}"

def test_readme_lessons_follow_the_sidebar_order():
    "The README's lesson list links pages in the same order as the sidebar."
    readme = (ROOT/"README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- lessons:start -->")[1].split("<!-- lessons:end -->")[0]
    linked = re.findall(r"\]\(([^)#]+)\.html\)", block)
    order = [page_name(p) for p in sidebar_pages()]
    unknown = [p for p in linked if p not in order]
    assert not unknown, f"README links pages that are not in the sidebar: {unknown}"
    assert linked == sorted(linked, key=order.index), f"README lesson order {linked} differs from the sidebar's"

@pytest.mark.parametrize("nb", notebooks())
def test_page_has_title_and_description(nb):
    "nbdev makes the first markdown cell's '# Title' and '> description' the page's title and description."
    title, desc = title_and_description(nb)
    assert title, f"nbs/{nb}: the first markdown cell must start with '# Title'"
    assert desc, f"nbs/{nb}: the first markdown cell needs a one-line '> description' under the title"

def test_quarto_config():
    "One _quarto.yml (nbs/_quarto.yml links to it): math, foldable code, sidebar metadata, live-slider resources."
    link = NBS/"_quarto.yml"
    assert link.is_symlink() and link.resolve() == (ROOT/"_quarto.yml").resolve(), "nbs/_quarto.yml must be a symlink to ../_quarto.yml"
    text = (ROOT/"_quarto.yml").read_text(encoding="utf-8")
    assert "symlink" in text.split("project:")[0], "keep the comment that explains the symlink"
    cfg = yaml.safe_load(text)
    assert cfg["project"]["type"] == "website"
    html = cfg["format"]["html"]
    assert html["html-math-method"] in ("katex", "mathjax") and html["code-fold"] in (True, "show")
    assert "sidebar.yml" in cfg["metadata-files"] and "nbdev.yml" in cfg["metadata-files"]
    resources = cfg["project"]["resources"]
    for f in ("live_sliders.json", "explorers.js"):
        assert f in resources and (NBS/f).exists(), f"{f} must exist in nbs/ and be listed in project: resources"
    assert (NBS/html["css"]).exists()

def test_custom_sidebar_is_kept():
    "settings.ini must say custom_sidebar = True, or nbdev would overwrite nbs/sidebar.yml with the file list."
    ini = (ROOT/"settings.ini").read_text(encoding="utf-8")
    assert re.search(r"^custom_sidebar\s*=\s*True\s*$", ini, flags=re.M)
