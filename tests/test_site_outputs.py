"""No warning streams and no progress bars in the outputs the notebooks keep (they are the website's pages).

A stderr stream (a library's warning) or a progress-bar widget ("Loading weights 100% 272/272")
saved in a notebook shows up on the course website as noise, and the widget even needs a CDN to
draw. Fix the cause (or silence that library's progress bars in the cell), re-execute, nbdev_clean.
"""
import json, re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/"nbs"
WIDGET_VIEW, WIDGET_STATE = "application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json"
PROGRESS_TEXT = re.compile(r"\d+%\||\d+% \d+/\d+ \[\d")  # tqdm's " 42%|████      | 5/12", or its text form "100% 6/6 [00:13<00:00"

def notebooks() -> list[str]:
    "The notebooks nbdev renders: nbs/**/*.ipynb, skipping names and folders that start with _ or ."
    return sorted(str(p.relative_to(NBS)) for p in NBS.rglob("*.ipynb")
                  if not any(part[0] in "_." for part in p.relative_to(NBS).parts))

def _is_progress_widget(model_id: str, state: dict, seen=()) -> bool:
    "Whether the widget `model_id` is (or contains) a progress bar, according to the saved widget state."
    w = state.get(model_id)
    if w is None or model_id in seen: return False
    if "Progress" in w.get("model_name", ""): return True
    children = w.get("state", {}).get("children", [])
    return any(_is_progress_widget(str(c).removeprefix("IPY_MODEL_"), state, (*seen, model_id)) for c in children)

def output_problems(nb: dict) -> list[str]:
    "One line per stderr stream or progress bar among the saved outputs of `nb` (empty: clean)."
    state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    problems = []
    for i, cell in enumerate(nb["cells"]):
        where = f"cell {i} (id {cell.get('id', '?')})"
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                text = "".join(o.get("text", ""))
                if o.get("name") == "stderr": problems.append(f"{where}: stderr stream: {text.strip()[:120]!r}")
                elif PROGRESS_TEXT.search(text): problems.append(f"{where}: progress bar printed: {text.strip()[:80]!r}")
                continue
            data = o.get("data", {})
            plain = "".join(data.get("text/plain", ""))
            if WIDGET_VIEW in data and (_is_progress_widget(data[WIDGET_VIEW].get("model_id", ""), state)
                                        or PROGRESS_TEXT.search(plain)):
                problems.append(f"{where}: progress-bar widget: {plain.strip()[:80]!r}")
    return problems

@pytest.mark.parametrize("nb", notebooks())
def test_no_stderr_or_progress_bars_in_saved_outputs(nb):
    problems = output_problems(json.loads((NBS/nb).read_text(encoding="utf-8")))
    assert not problems, f"nbs/{nb}:\n  " + "\n  ".join(problems)

def _nb(outputs, state=None):
    meta = {"widgets": {WIDGET_STATE: {"state": state or {}}}}
    return {"metadata": meta, "cells": [{"cell_type": "code", "id": "x", "source": "", "outputs": outputs}]}

def test_the_check_finds_each_kind():
    "The check itself: a warning stream, a tqdm widget (found through the saved state) and printed tqdm bars."
    stderr = {"output_type": "stream", "name": "stderr", "text": ["UserWarning: something\n"]}
    printed = {"output_type": "stream", "name": "stdout", "text": ["\r 50%|#####     | 1/2 [00:01<00:01]"]}
    view = lambda mid, txt: {"output_type": "display_data", "data": {WIDGET_VIEW: {"model_id": mid}, "text/plain": [txt]}}
    state = {"box": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_label", "IPY_MODEL_bar"]}},
             "bar": {"model_name": "FloatProgressModel", "state": {}}, "label": {"model_name": "HTMLModel", "state": {}},
             "sliders": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_s"]}},
             "s": {"model_name": "FloatSliderModel", "state": {}}}
    assert len(output_problems(_nb([stderr]))) == 1
    assert len(output_problems(_nb([printed]))) == 1
    # the text form of a finished bar, as the walkthrough once saved it
    bar_text = {"output_type": "stream", "name": "stdout", "text": ["epoch 1/3: 100% 6/6 [00:13<00:00,  2.15s/it, last=8.2964]\n"]}
    assert len(output_problems(_nb([bar_text]))) == 1
    assert len(output_problems(_nb([view("box", "HBox(children=(HTML(value='Loading'),))")], state))) == 1
    assert len(output_problems(_nb([view("gone", "Loading weights:   0%|          | 0/272")]))) == 1
    # an explorer's sliders are not progress bars, and plain stdout is fine
    assert output_problems(_nb([view("sliders", "VBox(...)"), {"output_type": "stream", "name": "stdout", "text": ["ok\n"]}],
                               state)) == []
