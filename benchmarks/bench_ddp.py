"""Micro-batches under DDP: the gradients averaged across processes once per step vs after every part.

`train_step(..., micro_batches=n)` runs a batch as n parts. Under `DistributedDataParallel` every backward
normally averages the gradients across the processes; `train_step` holds the first n - 1 parts in `no_sync`, so
the processes exchange their gradients once per optimizer step. This script measures what that buys.

Two processes (`torchrun --standalone --nproc_per_node 2`, gloo on the CPU, one thread each) train two copies of
the course's student (GPT-2 256/4/4, vocabulary 50,257: 16 M parameters, 64 MB of fp32 gradients) from the same
initial weights on the same batches, interleaved step by step:

- sync every part (the baseline): the DDP student behind a thin wrapper without `no_sync`, so `train_step`
  lets every part's backward average the gradients (what `train_step` did before);
- sync once (the candidate): the DDP student itself, as `distill` passes it.

Dropout is off (`eval()`), so both variants compute the same steps; the table shows the median step time after
`--warmup` steps, the ratio to the baseline, and the largest relative difference between the two students'
weights at the end (summing then averaging vs averaging then summing: float rounding only).

    python benchmarks/bench_ddp.py               # per process: batch 16 x 128 in 4 parts, 8 steps
    python benchmarks/bench_ddp.py --smoke       # tiny sizes: checks the script runs
"""
import argparse, os, statistics, subprocess, sys, time
from pathlib import Path
import torch
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel

RESULTS = Path(__file__).resolve().parent/"results"   # where the benchmark scripts save their tables

class SyncEveryPart(nn.Module):
    "The DDP student without `no_sync`: `train_step` then averages the gradients after every part."
    def __init__(self, ddp_student:nn.Module):
        super().__init__()
        self.ddp_student = ddp_student
    def forward(self, *args, **kwargs): return self.ddp_student(*args, **kwargs)

def worker(args):
    "One of the two processes: train both variants step by step, rank 0 prints and saves the table."
    from torch.nn.parallel import DistributedDataParallel as DDP
    from distill_edu.models import make_student
    from distill_edu.targets import LiveTeacher, TeacherTargets
    from distill_edu.criteria import kd_criterion
    from distill_edu.train import init_distributed, make_optimizer, train_step
    from distill_edu.perf import machine, save_results
    rank, world = init_distributed()
    assert world == 2, f"run it as the script does, under torchrun with 2 processes (world size {world})"
    vocab = 1000 if args.smoke else 50257
    size = dict(n_embd=32, n_layer=1, n_head=2) if args.smoke else {}
    torch.manual_seed(0)
    teacher = GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_embd=64, n_layer=1, n_head=2, n_positions=args.seq)).eval()
    generator = torch.Generator().manual_seed(100 + rank)   # each process its own shard of data
    batches = [torch.randint(0, vocab, (args.batch, args.seq), generator=generator) for _ in range(3)]
    logits = [LiveTeacher(teacher)(ids).logits for ids in batches]   # the teacher once per batch, not timed
    criterion = kd_criterion(0.5, "kld", 1.0)
    variants = {}
    for name in ("sync every part", "sync once"):
        student = make_student(vocab, seed=0, n_positions=args.seq, **size).eval()   # no dropout: the same steps
        model = DDP(student)
        if name == "sync every part": model = SyncEveryPart(model)
        variants[name] = (student, model, make_optimizer(student))
    times = {name: [] for name in variants}
    for n in range(args.steps):
        ids, teacher_logits = batches[n % 3], logits[n % 3]
        source = lambda part_ids, index, rows=teacher_logits: TeacherTargets(logits=rows[index])
        for name in (list(variants) if n % 2 == 0 else list(variants)[::-1]):   # alternate the order
            student, model, optimizer = variants[name]
            torch.distributed.barrier()   # both processes start the step together
            t0 = time.perf_counter()
            train_step((torch.arange(args.batch), ids), source, model, criterion, optimizer, micro_batches=args.micro)
            if n >= args.warmup: times[name].append(time.perf_counter() - t0)
    weights = {name: torch.cat([p.detach().flatten() for p in variants[name][0].parameters()]) for name in variants}
    difference = ((weights["sync once"] - weights["sync every part"]).abs().max() / weights["sync every part"].abs().max()).item()
    if rank != 0: return
    base = statistics.median(times["sync every part"])
    print(f"# bench_ddp: 2 processes (gloo, {torch.get_num_threads()} thread each), per process batch {args.batch} x "
          f"{args.seq} in {args.micro} parts, vocab {vocab}, {args.steps} steps ({args.warmup} untimed)")
    print("| variant | median step s | x sync every part | max rel. weight diff at the end |")
    print("|---|---|---|---|")
    rows = []
    for name in variants:
        median = statistics.median(times[name])
        shown = 0.0 if name == "sync every part" else difference
        print(f"| {name} | {median:.3f} | {median / base:.2f} | {shown:.1e} |")
        rows.append({"variant": name, "step_s": median, "x sync every part": median / base,
                     "max_rel_weight_diff": shown, "times": times[name]})
    if not args.no_save and not args.smoke:
        path = save_results("ddp", rows, RESULTS, machine=machine(), processes="2 (torchrun, gloo, 1 thread each)",
                            batch=f"{args.batch} x {args.seq} per process in {args.micro} micro-batches",
                            student="GPT-2 256/4/4, vocab 50,257", steps=args.steps, warmup=args.warmup,
                            note="median step time over the timed steps, the variants interleaved in alternating order, "
                                 "both processes starting each step together; dropout off, same batches and weights")
        print(f"saved {path}")

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=16, help="windows per process and step")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--micro", type=int, default=4, help="micro-batches a step")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2, help="steps not timed")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script runs (not a measurement)")
    ap.add_argument("--no-save", action="store_true", help="print the table only (by default it is also saved to results/ddp.json)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)   # set when torchrun starts the processes
    args = ap.parse_args()
    if args.worker: return worker(args)
    torchrun = Path(sys.executable).parent/"torchrun"
    command = [str(torchrun), "--standalone", "--nproc_per_node", "2", __file__, "--worker", *sys.argv[1:]]
    sys.exit(subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}).returncode)

if __name__ == "__main__": main()
