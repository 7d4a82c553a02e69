"""Print the saved benchmark results (benchmarks/results/*.json) as Markdown tables, for benchmarks/README.md.

    python benchmarks/report.py
"""
import sys
from pathlib import Path
from distill_edu.perf import load_results

RESULTS = Path(__file__).resolve().parent/"results"   # where the benchmark scripts save their tables

COLUMNS = {
    "step": ["variant", "step_s", "tokens_per_s", "x reference", "x CE-only", "peak_step_MiB"],
    "loss": ["variant", "time_s", "time vs kld_loss", "peak_above_inputs_MiB", "memory vs kld_loss", "memory vs kld_loss + head",
             "max_abs_diff_value", "max_abs_diff_grad"],
    "data": None,
    "precision": ["variant", "step_s", "x fp32 time", "max_rel_loss_diff", "last_loss", "fp32_last_loss"],
    "ddp": ["variant", "step_s", "x sync every part", "max_rel_weight_diff"],
}

def fmt(v):
    if isinstance(v, float):
        if v != v: return ""
        if v == 0: return "0"
        if abs(v) < 1e-3: return f"{v:.1e}"
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)

def main():
    for name, cols in COLUMNS.items():
        r = load_results(name, RESULTS)
        if r is None: print(f"<!-- {name}: no results yet -->\n"); continue
        hdr, df = r
        if cols: df = df[[c for c in cols if c in df.columns]]
        df = df.drop(columns=[c for c in ("times",) if c in df.columns])
        print(f"### {name}\n")
        for k, v in hdr.items(): print(f"- {k}: {v}")
        print()
        print("| " + " | ".join(df.columns) + " |")
        print("|" + "---|" * len(df.columns))
        for row in df.itertuples(index=False): print("| " + " | ".join(fmt(v) for v in row) + " |")
        print()

if __name__ == "__main__":
    sys.exit(main())
