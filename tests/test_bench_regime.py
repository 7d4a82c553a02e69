"The regime-study step-cost benchmark runs end to end (tiny models: a check that it works, not a measurement)."
import subprocess, sys
from pathlib import Path

def test_bench_regime_smoke():
    p = subprocess.run([sys.executable, str(Path(__file__).parents[1]/"benchmarks"/"bench_regime.py"), "--smoke", "--repeat", "2"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    lines = [l for l in p.stdout.splitlines() if l.startswith(("hard labels", "distilled", "fill"))]
    assert len(lines) == 5, p.stdout
    ratio = float(lines[0].split()[-1])          # the baseline's ratio to itself
    assert ratio == 1.0, lines[0]
