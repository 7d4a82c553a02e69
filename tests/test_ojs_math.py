"""The live sliders of the static site compute what the library computes.

nbs/explorers.js (the JavaScript the ```{ojs} blocks of nbs/06_live_sliders.ipynb import) is run
with node (tests/ojs_math.mjs) on the logits of nbs/live_sliders.json and on seeded random logits,
and compared with `softmax_t`, `entropy`, `kld_loss`, `mse_logit_loss`, `balanced_loss` and
`optimal_student` (the best student of the α explorer: Newton in closed form in JS, autograd in Python);
the committed JSON must be what the notebook writes and agree with those functions.
"""
import json, math, re, shutil, subprocess
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from distill_edu.core import softmax_t, entropy
from distill_edu.losses import kld_loss, mse_logit_loss, balanced_loss
from distill_edu.explore import optimal_student
from distill_edu.live_sliders import live_sliders_data

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/"nbs"
EXPLORERS, JSON_FILE, PAGE = NBS/"explorers.js", NBS/"live_sliders.json", NBS/"06_live_sliders.ipynb"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not on the PATH: install Node.js to check nbs/explorers.js")
TOL = 1e-6

def close(a, b, tol=TOL) -> bool:
    "Numbers, or nested lists of numbers, equal within `tol` (absolute or relative)."
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b))
    if a is None or b is None: return False  # JSON.stringify writes NaN and ±Infinity as null
    return math.isclose(float(a), float(b), rel_tol=tol, abs_tol=tol)

def run_js(calls: list[dict], tmp_path: Path) -> list[dict]:
    "Evaluate `calls` ({'fn', 'args'}) with node on nbs/explorers.js."
    f = tmp_path/"calls.json"
    f.write_text(json.dumps(calls))
    res = subprocess.run([NODE, str(ROOT/"tests"/"ojs_math.mjs"), str(EXPLORERS), str(f)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"node failed:\n{res.stderr}"
    out = json.loads(res.stdout)
    assert len(out) == len(calls)
    return out

def _row(x) -> torch.Tensor: return torch.tensor(x, dtype=torch.float64)[None]

def logit_pairs() -> list[tuple]:
    "(name, student, teacher, label) rows: the JSON's logits and seeded random ones, some with large logits."
    d = json.loads(JSON_FILE.read_text(encoding="utf-8"))
    pairs = [("json", d["student_logits"], d["teacher_logits"], d["label"])]
    g = torch.Generator().manual_seed(0)
    for i, (V, scale) in enumerate([(2, 1.0), (10, 3.0), (300, 5.0), (50, 1e3)]):
        s, t = (torch.randn(V, generator=g, dtype=torch.float64) * scale for _ in range(2))
        pairs.append((f"random{i}", s.tolist(), t.tolist(), int(torch.randint(V, (1,), generator=g))))
    return pairs

TEMPERATURES = [0.1, 0.37, 1.0, 2.0, 7.5, 20.0]
ALPHAS = [0.0, 0.3, 0.5, 1.0]

def python_and_js_calls(pairs):
    "Yield (description, expected Python value, js call) for every function and case."
    for name, s, t, y in pairs:
        hard = F.cross_entropy(_row(s), torch.tensor([y])).item()
        yield f"{name} crossEntropy", hard, dict(fn="crossEntropy", args=[s, y])
        yield f"{name} mseLogits", mse_logit_loss(_row(s), _row(t)).item(), dict(fn="mseLogits", args=[s, t])
        for T in TEMPERATURES:
            p = softmax_t(_row(t), T)[0]
            yield f"{name} softmaxT T={T}", p.tolist(), dict(fn="softmaxT", args=[t, T])
            yield f"{name} entropy T={T}", entropy(p).item(), dict(fn="entropy", args=[p.tolist()])
            yield f"{name} maxProb T={T}", p.max().item(), dict(fn="maxProb", args=[p.tolist()])
            yield f"{name} klDiv T={T}", kld_loss(_row(s), _row(t), temperature=T).item(), dict(fn="klDiv", args=[s, t, T])
            for a in ALPHAS:
                for soft in ("kld", "mse"):
                    want = balanced_loss(torch.tensor(hard, dtype=torch.float64), _row(s), _row(t), soft_loss=soft,
                                         alpha=a, temperature=T).item()
                    yield (f"{name} balancedLoss {soft} a={a} T={T}", want,
                           dict(fn="balancedLoss", args=[hard, t, s, soft, a, T]))

@needs_node
def test_js_matches_python(tmp_path):
    cases = list(python_and_js_calls(logit_pairs()))
    out = run_js([c for _, _, c in cases], tmp_path)
    bad = [(desc, want, got) for (desc, want, _), got in zip(cases, out) if "error" in got or not close(got["value"], want)]
    assert not bad, f"{len(bad)} of {len(cases)} JS results differ from Python, e.g. {bad[:3]}"
    assert len(cases) >= 350

OPT_ALPHAS = [0.0, 0.1, 0.5, 0.9, 1.0]

@needs_node
def test_js_optimal_student_matches_python(tmp_path):
    """JS Newton (closed-form gradient and Hessian) and Python Newton (autograd on the library's loss) find the same
    best student. Both stop at |g|∞ ≤ 1e-10; the Hessian's non-zero eigenvalues are ≥ α·min q, so each is within
    ~1e-10 / (α min q) of the minimum in a logit, and a probability moves by ≤ q_i times that: 1e-6 covers it
    for these logits (the V = 300 and large-logit pairs are left out: a dense V×V Newton solve per step is slow there)."""
    cases = []
    for name, s, t, y in logit_pairs()[:3]:   # V = 10, 2, 10: Newton on a V×V Hessian, kept small
        for T in TEMPERATURES:
            for a in OPT_ALPHAS:
                for soft in ("kld", "mse"):
                    cases.append((f"{name} optimalStudent {soft} a={a} T={T}", optimal_student(t, y, a, T, soft).tolist(),
                                  dict(fn="optimalStudent", args=[t, y, a, T, soft])))
    out = run_js([c for _, _, c in cases], tmp_path)
    bad = [(desc, want, got) for (desc, want, _), got in zip(cases, out) if "error" in got or not close(got["value"], want)]
    assert not bad, f"{len(bad)} of {len(cases)} JS optima differ from Python, e.g. {bad[:2]}"

@needs_node
def test_js_optimum_is_the_minimum(tmp_path):
    "Independently of Python's solver: the written-out gradient of the total vanishes at the JS optimum (kld)."
    d = json.loads(JSON_FILE.read_text(encoding="utf-8"))
    zt, y = torch.tensor(d["teacher_logits"], dtype=torch.float64), d["label"]
    grid = [(a, T) for a in (0.1, 0.5, 0.9) for T in (0.5, 1.0, 2.0, 20.0)]
    out = run_js([dict(fn="optimalStudent", args=[d["teacher_logits"], y, a, T, "kld"]) for a, T in grid], tmp_path)
    for (a, T), got in zip(grid, out):
        q = torch.tensor(got["value"], dtype=torch.float64); z = q.log()          # kld ignores a shift: log q are its logits
        g = a * (q - F.one_hot(torch.tensor(y), len(q))) + (1 - a) * T * (torch.softmax(z / T, -1) - torch.softmax(zt / T, -1))
        assert g.abs().max() < 1e-9, (a, T, g.abs().max())   # JS stops at 1e-10; log/exp round-trip adds ~1e-15
    # and T does not flatten it: at α = 0 it is the teacher at T = 1 for every T
    out = run_js([dict(fn="optimalStudent", args=[d["teacher_logits"], y, 0.0, T, "kld"]) for T in (0.1, 2.0, 20.0)], tmp_path)
    for got in out: assert close(got["value"], torch.softmax(zt, -1).tolist(), 1e-12)

@needs_node
def test_js_refuses_bad_input_like_python(tmp_path):
    z = [1.0, 2.0, 3.0]
    calls = [dict(fn="softmaxT", args=[z, 0]), dict(fn="softmaxT", args=[z, -1]), dict(fn="klDiv", args=[z, z, 0]),
             dict(fn="klDiv", args=[z, z[:2], 2]), dict(fn="mseLogits", args=[z, z[:2]]),
             dict(fn="balancedLoss", args=[1.0, z, z, "kl", 0.5, 2]), dict(fn="balancedLoss", args=[1.0, z, z, "kld", 1.5, 2]),
             dict(fn="crossEntropy", args=[z, 3]), dict(fn="optimalStudent", args=[z, 0, -0.1, 2, "kld"]),
             dict(fn="optimalStudent", args=[z, 0, 0.5, 2, "jsd"]), dict(fn="optimalStudent", args=[z, 3, 0.5, 2, "kld"]),
             dict(fn="optimalStudent", args=[z, 0, 0.5, 0, "kld"])]
    out = run_js(calls, tmp_path)
    for call, got in zip(calls, out):
        assert "error" in got, f"{call} should have been refused, got {got}"
    assert "0" in out[0]["error"] and "-1" in out[1]["error"]
    assert "kl" in out[5]["error"] and "1.5" in out[6]["error"] and "jsd" in out[9]["error"]
    # the Python functions the JavaScript mirrors refuse the same input
    r = _row(z)
    for f in (lambda: softmax_t(r, 0), lambda: kld_loss(r, r[:, :2]),
              lambda: balanced_loss(torch.tensor(1.0), r, r, soft_loss="kl"),
              lambda: balanced_loss(torch.tensor(1.0), r, r, alpha=1.5), lambda: optimal_student(z, 0, -0.1),
              lambda: optimal_student(z, 0, 0.5, 2, "jsd"), lambda: optimal_student(z, 3), lambda: optimal_student(z, 0, 0.5, 0)):
        with pytest.raises(ValueError): f()

def test_committed_json_is_what_the_notebook_writes():
    committed = json.loads(JSON_FILE.read_text(encoding="utf-8"))
    fresh = live_sliders_data()
    assert committed.keys() == fresh.keys() and committed["reference"].keys() == fresh["reference"].keys()
    for k in ("tokens", "label", "context"): assert committed[k] == fresh[k], k
    for k in ("teacher_logits", "student_logits"): assert close(committed[k], fresh[k], 1e-12), k
    for k, v in fresh["reference"].items(): assert close(committed["reference"][k], v, 1e-9), f"reference[{k!r}] is stale: run the notebook"

def test_json_reference_agrees_with_the_library():
    "Recompute the JSON's reference values from its own logits with the library functions."
    d = json.loads(JSON_FILE.read_text(encoding="utf-8"))
    r, zs, zt, y = d["reference"], _row(d["student_logits"]), _row(d["teacher_logits"]), d["label"]
    assert len(d["tokens"]) == zs.shape[-1] == zt.shape[-1] >= 2 and 0 <= y < len(d["tokens"])
    assert min(r["temperatures"]) <= 0.1 and max(r["temperatures"]) >= 20 and r["alphas"][0] == 0 and r["alphas"][-1] == 1
    hard = F.cross_entropy(zs, torch.tensor([y]))
    assert close(r["hard"], hard.item()) and close(r["mse"], F.mse_loss(zs, zt).item())
    for i, T in enumerate(r["temperatures"]):
        p, q = softmax_t(zt, T)[0], softmax_t(zs, T)[0]
        assert close(r["teacher_probs"][i], p.tolist()) and close(r["student_probs"][i], q.tolist())
        assert close(r["teacher_entropy"][i], entropy(p).item()) and close(r["student_entropy"][i], entropy(q).item())
        assert close(r["teacher_max_prob"][i], p.max().item()) and close(r["student_max_prob"][i], q.max().item())
        assert close(r["kld"][i], kld_loss(zs, zt, temperature=T).item())
        for j, a in enumerate(r["alphas"]):
            for soft in ("kld", "mse"):
                want = balanced_loss(hard, zs, zt, soft_loss=soft, alpha=a, temperature=T).item()
                assert close(r[f"balanced_{soft}"][i][j], want), (soft, T, a)
            for soft in ("kld", "mse"):
                assert close(r[f"optimum_{soft}"][i][j], optimal_student(zt[0], y, a, T, soft).tolist()), (soft, T, a)

def _ojs_blocks() -> list[str]:
    nb = json.loads(PAGE.read_text(encoding="utf-8"))
    for c in nb["cells"]:
        assert c["cell_type"] == "markdown" or "```{ojs}" not in "".join(c["source"]), "an {ojs} block sits in a code cell"
    md = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return re.findall(r"^```\{ojs\}\n(.*?)^```", md, flags=re.S | re.M)

def test_page_imports_the_module_and_reads_the_json():
    blocks = _ojs_blocks()
    assert len(blocks) >= 5, "expected the setup, the two explorers' sliders and plots, and the self-check"
    src = "\n".join(blocks)
    # loaded with import(): an `import {...} from` cell makes Quarto request a highlight.js that npm lacks
    assert re.search(r'^explorers = import\(new URL\("explorers\.js", document\.baseURI\)\.href\)', src, flags=re.M), \
        'the page must load explorers = import(new URL("explorers.js", document.baseURI).href)'
    assert not re.search(r"^import\s*\{", src, flags=re.M), "no `import {...} from` cell (Quarto would request highlight.js)"
    exported = set(re.findall(r"^export function (\w+)", EXPLORERS.read_text(encoding="utf-8"), flags=re.M))
    names = set(re.findall(r"^(\w+) = explorers\.(\w+)$", src, flags=re.M))
    assert names and all(a == b for a, b in names), names
    names = {a for a, _ in names}
    assert names <= exported, f"imported but not exported by explorers.js: {names - exported}"
    assert 'FileAttachment("live_sliders.json")' in src
    assert "Inputs.range" in src and "Plot." in src and "viewof T" in src and "viewof alpha" in src
    # the live temperature slider is log-scaled and spans 0.1 to 20
    assert re.search(r"viewof T = Inputs\.range\(\[0\.1, 20\].*transform: Math\.log", src)
    code = "\n".join("".join(c["source"]) for c in json.loads(PAGE.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code")
    assert "write_live_sliders_json(" in code, "the notebook must write nbs/live_sliders.json in a code cell that runs"
