"""bf16 autocast for the student and gradient accumulation, measured on the CPU: step time and loss vs fp32.

The course's student (GPT-2 256/4/4, vocabulary 50,257, context 128) trains for `--steps` optimizer steps on the
same batches from the same initial weights, three ways, interleaved step by step:

- fp32: `train_step` with its defaults;
- bf16 autocast: `train_step(..., bf16=True)` (`TrainConfig.bf16`, `--bf16`): the student's forward and the
  criterion under `torch.autocast("cpu", torch.bfloat16)` (the weights, the optimizer and the gradients stay fp32);
- accumulation: `train_step(..., micro_batches=--micro)` (`TrainConfig.micro_batches`, `--micro-batches`): the same
  batch as micro-batches, each loss divided by their number, one optimizer step.

The teacher's targets are full logits of a small random GPT-2 of the same vocabulary, computed once per batch
(the teacher's cost is not what is measured). The criterion is the default, `kd_criterion(0.5, "kld", 1.0)`.
The table shows the median step time after `--warmup` steps, the ratio to fp32, and how far each variant's
loss is from fp32's at the same step (largest relative difference over all steps, and at the last step).

    python benchmarks/bench_precision.py              # batch 16 x 128, 12 steps
    python benchmarks/bench_precision.py --smoke      # tiny sizes: checks the script runs
"""
import argparse, statistics, time
from pathlib import Path
import torch
from transformers import GPT2Config, GPT2LMHeadModel
from distill_edu.models import make_student, native_bf16
from distill_edu.targets import LiveTeacher, TeacherTargets
from distill_edu.criteria import kd_criterion
from distill_edu.train import make_optimizer, train_step
from distill_edu.perf import machine, save_results

RESULTS = Path(__file__).resolve().parent/"results"   # where the benchmark scripts save their tables

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2, help="steps not timed")
    ap.add_argument("--micro", type=int, default=2, help="micro-batches of the accumulation variant")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script runs (not a measurement)")
    ap.add_argument("--no-save", action="store_true", help="print the table only (by default it is also saved to results/precision.json)")
    args = ap.parse_args()
    vocab = 1000 if args.smoke else 50257
    size = dict(n_embd=32, n_layer=1, n_head=2) if args.smoke else {}
    torch.manual_seed(0)
    teacher = GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_embd=64, n_layer=1, n_head=2, n_positions=args.seq))
    live = LiveTeacher(teacher)
    windows = torch.randint(0, vocab, (3 * args.batch, args.seq))
    batches = [(torch.arange(i * args.batch, (i + 1) * args.batch), windows[i * args.batch:(i + 1) * args.batch])
               for i in range(3)]
    logits = {i: live(ids).logits for i, (_, ids) in enumerate(batches)}   # the teacher once per batch
    def targets_for(batch_number):
        "The teacher source of one batch: its rows of the precomputed logits."
        first = batch_number * args.batch
        return lambda ids, index: TeacherTargets(logits=logits[batch_number][index - first])
    criterion = kd_criterion(0.5, "kld", 1.0)
    variants = {"fp32": (False, 1), "bf16 autocast": (True, 1), f"accumulation {args.micro} x {args.batch // args.micro}": (False, args.micro)}
    state = {}
    for name in variants:
        student = make_student(vocab, seed=0, n_positions=args.seq, **size).train()
        state[name] = (student, make_optimizer(student))
    times = {name: [] for name in variants}
    losses = {name: [] for name in variants}
    for n in range(args.steps):
        window_index, input_ids = batches[n % 3]
        for name in (list(variants) if n % 2 == 0 else list(variants)[::-1]):   # alternate the order
            bf16, micro = variants[name]
            student, optimizer = state[name]
            torch.manual_seed(1000 + n)   # the same dropout masks for every variant at this step
            t0 = time.perf_counter()
            loss = train_step((window_index, input_ids), targets_for(n % 3), student, criterion, optimizer, clip=1.0,
                              micro_batches=micro, bf16=bf16)["loss"]
            if n >= args.warmup: times[name].append(time.perf_counter() - t0)
            losses[name].append(loss)
    base = statistics.median(times["fp32"])
    native = native_bf16()
    print(f"# bench_precision: batch {args.batch} x {args.seq}, vocab {vocab}, {args.steps} steps "
          f"({args.warmup} untimed), {torch.get_num_threads()} threads, native CPU bf16: {native}")
    print("| variant | median step s | x fp32 time | max rel. loss diff vs fp32 | last-step loss | fp32 last-step loss |")
    print("|---|---|---|---|---|---|")
    rows = []
    for name in variants:
        rel = max(abs(a - b) / abs(b) for a, b in zip(losses[name], losses["fp32"]))
        med = statistics.median(times[name])
        print(f"| {name} | {med:.3f} | {med / base:.2f} | {rel:.2e} | {losses[name][-1]:.4f} | {losses['fp32'][-1]:.4f} |")
        rows.append({"variant": name, "step_s": med, "x fp32 time": med / base, "max_rel_loss_diff": rel,
                     "last_loss": losses[name][-1], "fp32_last_loss": losses["fp32"][-1], "times": times[name]})
    if not args.no_save and not args.smoke:
        path = save_results("precision", rows, RESULTS, machine=machine(), batch=f"{args.batch} x {args.seq}",
                            student="GPT-2 256/4/4, vocab 50,257", steps=args.steps, warmup=args.warmup,
                            native_cpu_bf16=native, criterion='kd_criterion(0.5, "kld", 1.0) on precomputed teacher logits',
                            note="median step time over the timed steps, the variants interleaved in alternating order; "
                                 "the loss difference is the largest over all steps, same batches, weights and dropout masks")
        print(f"saved {path}")

if __name__ == "__main__": main()
