"The DDP micro-batch benchmark runs end to end under torchrun (tiny model: a check that it works, not a measurement)."
import subprocess, sys
from pathlib import Path
import pytest, torch

@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_bench_ddp_smoke():
    script = Path(__file__).parents[1]/"benchmarks"/"bench_ddp.py"
    p = subprocess.run([sys.executable, str(script), "--smoke", "--steps", "4", "--warmup", "1"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    rows = [line.split("|")[1:-1] for line in p.stdout.splitlines() if line.startswith("| sync")]
    assert [row[0].strip() for row in rows] == ["sync every part", "sync once"], p.stdout
    assert float(rows[0][2]) == 1.0, rows[0]          # the baseline's ratio to itself
    assert float(rows[1][1]) > 0, rows[1]             # a measured step time
