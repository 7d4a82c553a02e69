"""Write README.md from nbs/index.ipynb, so the two never disagree.

nbs/index.ipynb (the website's landing page) is the one source: README.md is its markdown cells,
joined by blank lines. nbdev would instead render README.md with Quarto's gfm writer whenever the
notebook is newer (re-wrapping every line and breaking the lesson-list markers), so settings.ini
names no `readme_nb` and `nbdev_docs` leaves README.md alone.

    python scripts/sync_readme.py           # rewrite README.md
    python scripts/sync_readme.py --check   # exit 1 if README.md is out of date

tests/test_readme.py fails when README.md differs from what this script writes.
"""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def readme_text(root: Path = ROOT) -> str:
    "README.md's content: the markdown cells of `root`/nbs/index.ipynb, separated by blank lines."
    nb = json.loads((root/"nbs"/"index.ipynb").read_text(encoding="utf-8"))
    cells = ["".join(c["source"]).strip() for c in nb["cells"] if c["cell_type"] == "markdown"]
    return "\n\n".join(c for c in cells if c) + "\n"

def main(argv: list[str]) -> int:
    readme, text = ROOT/"README.md", readme_text()
    if "--check" in argv:
        if readme.read_text(encoding="utf-8") == text: return 0
        print("README.md differs from nbs/index.ipynb: edit the notebook, then run python scripts/sync_readme.py",
              file=sys.stderr)
        return 1
    readme.write_text(text, encoding="utf-8")
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
