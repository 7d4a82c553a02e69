"""The measurements behind "Pruning a teacher into a student": which SmolLM2 blocks matter, how each way of pruning
does right after the cut, and whether a short recovery is feasible on the course's CPU.

Teacher SmolLM2-135M-Instruct (offline, `load_teacher("smollm2-135m")`), IMDB reviews from $DISTILL_EDU_IMDB split
by review (`prepare_windows`, 1,000 reviews, windows of 128 tokens). `--calib` calibration windows are drawn from
the training side; the held-out `--eval` windows, spread over the validation side, score every model. Parts:

  importance  per-block block influence, loss increase and KL increase when skipped   -> importance.csv
  depth       perplexity / KL / top-1 right after keeping N blocks, per strategy     -> depth.csv
  width       MLP (and MLP + head) pruning at the parameter counts of depth 16 / 12  -> width.csv
  recovery    short recovery runs, alpha = 0 (KL, T = 1) vs alpha = 1 (hard labels),
              same batches per seed, held-out curves; `N:scratch` is a student of the
              shape of `N:importance` trained from a random init (`--modes kd`)      -> recovery.csv, samples.json
  timing      one training step (batch 8 x 128, AdamW) of pruned students, live bf16
              teacher vs cached teacher logits vs hard labels, on 1 and 2 threads     -> timing.csv

Forward-only parts (importance, depth, width) run the teacher and its pruned copies in the dtype `--dtype` (auto:
bfloat16 on a CPU with native bf16, as the CLI's --teacher-dtype auto); students that train are float32, cut from the
float32 teacher, and the live teacher runs in that dtype. Every part skips the rows its CSV already has, so a rerun
resumes; results are written as they land. Metadata (device, threads, dtypes, load average) goes to meta.json.

    nice -n 5 python scripts/prune_study.py > /tmp/prune_study.log 2>&1 &
    # seeds 1 and 2 of the 20-step recovery, and the from-scratch baseline (two processes may share recovery.csv)
    nice -n 10 python scripts/prune_study.py --parts recovery --recovery-students 16:importance --seeds 1 2 &
    nice -n 10 python scripts/prune_study.py --parts recovery --recovery-students 16:scratch --modes kd --seeds 0 1 2 &
    # the longer runs (lr 3e-4) and tokens-to-match at under half the parameters: scripts/prune_long.sh

Recovery runs save a checkpoint every --checkpoint-every steps and continue from it when rerun. With --match-step K,
hard-label runs and from-scratch students stop as soon as their held-out perplexity reaches the distilled
N:importance student's at step K (same lr and seed); stops.csv records the step.
"""
import argparse, json, os, platform, time
from pathlib import Path
import pandas as pd
import torch

from distill_edu.models import load_teacher, load_tokenizer, generate_response, SMOLLM2, native_bf16
from distill_edu.data import prepare_windows
from distill_edu.losses import hard_loss, kld_loss
from distill_edu.prune import (layer_importance, choose_layers, prune_layers, parameter_share, mlp_importance, prune_mlp,
                               head_importance, prune_heads, mlp_width, blocks)

PROMPT = "The best part of the movie was"


def spread(ds, n):
    "`n` windows spread evenly over `ds`, stacked into an (n, S) tensor."
    step = max(1, len(ds) // n)
    return torch.stack([ds[i] for i in range(0, len(ds), step)[:n]])


def append_row(path, row):
    "Append one row to a CSV (header on first write)."
    pd.DataFrame([row]).to_csv(path, mode="a", header=not path.exists(), index=False)


def done_keys(path, cols):
    if not path.exists(): return set()
    df = pd.read_csv(path)
    return {tuple(str(v) for v in r) for r in df[cols].itertuples(index=False)}


@torch.no_grad()
def teacher_logits(teacher, windows, batch):
    return torch.cat([teacher(windows[i:i+batch], use_cache=False).logits.to(torch.bfloat16) for i in range(0, len(windows), batch)])


@torch.no_grad()
def score(model, windows, t_logits, batch):
    "Held-out perplexity, KL(teacher ‖ model) per token (T = 1) and top-1 agreement."
    was = model.training; model.eval()
    nll = kl = agree = 0.0; n = 0
    for i in range(0, len(windows), batch):
        ids, t = windows[i:i+batch], t_logits[i:i+batch].float()
        s = model(ids, use_cache=False).logits.float()
        nll += hard_loss(s, ids).item() * len(ids)
        kl += kld_loss(s, t, temperature=1.0).item() * len(ids)
        agree += (s.argmax(-1) == t.argmax(-1)).float().mean().item() * len(ids)
        n += len(ids)
    model.train(was)
    return dict(ppl=float(torch.tensor(nll / n).exp()), kl=kl / n, top1=agree / n)


def part_importance(ctx):
    path = ctx.out/"importance.csv"
    if path.exists(): return pd.read_csv(path, index_col="layer")
    t0 = time.time()
    df = layer_importance(ctx.teacher, ctx.calib, batch_size=ctx.args.batch)
    df.to_csv(path)
    print(f"importance: {time.time()-t0:.0f} s", flush=True)
    return df


def depth_plans(imp, n_layers, ns):
    "(n_keep, strategy, layers) for every strategy; importance by each of the three scores."
    for n in ns:
        for score_name in ("kl_increase", "loss_increase", "block_influence"):
            yield n, f"importance:{score_name}", choose_layers(list(imp[score_name]), n, "importance")
        for s in ("every_other", "first", "last"): yield n, s, choose_layers(n_layers, n, s)
    yield 16, "drop 8-21 (the issue's first look)", [i for i in range(n_layers) if not 8 <= i <= 21]


def part_depth(ctx, imp):
    path = ctx.out/"depth.csv"
    done = done_keys(path, ["n_keep", "strategy"])
    for n, strategy, keep in depth_plans(imp, len(blocks(ctx.teacher)), ctx.args.keep):
        if (str(n), strategy) in done: continue
        t0 = time.time()
        student = prune_layers(ctx.teacher, keep)
        params, share = parameter_share(student, ctx.teacher)
        row = dict(n_keep=n, strategy=strategy, layers=" ".join(map(str, keep)), params=params, share=round(share, 4),
                   **score(student, ctx.evalw, ctx.t_eval, ctx.args.batch), seconds=round(time.time() - t0, 1))
        append_row(path, row); print("depth", row, flush=True)
        del student


def width_student(teacher, calib, batch, n_keep, heads):
    "(plan, student): MLP neurons (and, if `heads`, one key/value group of 3) pruned down to the parameters of `n_keep` blocks."
    d, n_layers = teacher.config.hidden_size, len(blocks(teacher))
    per_block = sum(p.numel() for p in blocks(teacher)[0].parameters())
    n_heads, n_kv, head_dim = teacher.config.num_attention_heads, teacher.config.num_key_value_heads, teacher.config.head_dim
    per_group = 2 * d * head_dim * (n_heads // n_kv) + 2 * d * head_dim   # q rows and o columns of its heads, k and v rows
    cut = (n_layers - n_keep) * per_block                                # what depth pruning to n_keep blocks removes
    student, plan = teacher, ""
    if heads:
        student = prune_heads(teacher, head_importance(teacher, calib, batch), n_heads - n_heads // n_kv)
        cut -= n_layers * per_group
        plan = f"heads {n_heads - n_heads // n_kv} + "
    width = mlp_width(teacher) - round(cut / n_layers / (3 * d))          # a neuron: a row of gate and up, a column of down
    student = prune_mlp(student, mlp_importance(student, calib, batch), width)
    return f"{plan}mlp {width} (= depth {n_keep})", student


def part_width(ctx):
    path = ctx.out/"width.csv"
    done = {(p.startswith("heads"), int(n)) for p, n in done_keys(path, ["plan", "equal_to_depth"])}
    for n_keep in (16, 12):
        for heads in (False, True):
            if (heads, n_keep) in done: continue
            t0 = time.time()
            plan, student = width_student(ctx.teacher, ctx.calib, ctx.args.batch, n_keep, heads)
            params, share = parameter_share(student, ctx.teacher)
            row = dict(plan=plan, equal_to_depth=n_keep, params=params, share=round(share, 4),
                       **score(student, ctx.evalw, ctx.t_eval, ctx.args.batch), seconds=round(time.time() - t0, 1))
            append_row(path, row); print("width", row, flush=True)
            del student


def train_batches(ctx, seed, steps):
    "`steps` batches of the training pool in a seeded order; a run longer than one pass reshuffles for each new pass."
    g = torch.Generator().manual_seed(seed)
    b = ctx.args.batch
    per_pass = len(ctx.pool) // b
    orders = [torch.randperm(len(ctx.pool), generator=g) for _ in range(-(-steps // per_pass))]
    return [ctx.pool[orders[i // per_pass][(i % per_pass)*b:(i % per_pass + 1)*b]] for i in range(steps)]


def step_fn(student, opt, ids, mode, teacher=None, cached=None):
    s = student(ids, use_cache=False).logits
    if mode == "hard": loss = hard_loss(s, ids)
    else:
        with torch.no_grad(): t = cached.float() if cached is not None else teacher(ids, use_cache=False).logits.float()
        loss = kld_loss(s, t, temperature=1.0)
    opt.zero_grad(set_to_none=True); loss.backward()
    torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0); opt.step()
    return loss.item()


def keep_layers(ctx, imp, n_keep, strategy="importance"):
    "The blocks a timing / recovery student keeps: by `--score`, or with --score best by the score whose cut had the lowest KL."
    if strategy != "importance": return choose_layers(len(imp), n_keep, strategy)
    name = ctx.args.score
    if name == "best":
        depth = pd.read_csv(ctx.out/"depth.csv")
        rows = depth[(depth.n_keep == n_keep) & depth.strategy.str.startswith("importance:")]
        if rows.empty: raise SystemExit(f"--score best needs depth.csv rows for n_keep={n_keep}: run the depth part with --keep {n_keep}")
        name = rows.sort_values("kl").strategy.iloc[0].split(":")[1]
    return choose_layers(list(imp[name]), n_keep, "importance")


def part_timing(ctx, imp):
    path = ctx.out/"timing.csv"
    done = done_keys(path, ["n_keep", "teacher", "threads"])
    batches = train_batches(ctx, 99, 3)
    for threads, n_keep, teacher in [(th, n, t) for th in ctx.args.timing_threads for n in ctx.args.timing_keep
                                     for t in ("live bf16" if ctx.live_dtype == torch.bfloat16 else "live fp32",
                                               "cached logits", "none (hard labels)")]:
        if (str(n_keep), teacher, str(threads)) in done: continue
        torch.set_num_threads(threads)
        student = prune_layers(ctx.teacher32, keep_layers(ctx, imp, n_keep))
        opt = torch.optim.AdamW(student.parameters(), lr=1e-4, weight_decay=0.0)
        cached = None
        if teacher == "cached logits":
            with torch.no_grad(): cached = [ctx.live(ids, use_cache=False).logits.to(torch.bfloat16) for ids in batches]
        times, cpu = [], []
        for k, ids in enumerate(batches):
            t0, c0 = time.perf_counter(), time.process_time()
            step_fn(student, opt, ids, "hard" if teacher.startswith("none") else "kd", ctx.live, cached[k] if cached else None)
            times.append(time.perf_counter() - t0); cpu.append(time.process_time() - c0)
        row = dict(n_keep=n_keep, teacher=teacher, threads=threads, batch=f"{ctx.args.batch}x128",
                   params=parameter_share(student, ctx.teacher)[0], step_s_median=round(sorted(times[1:])[len(times[1:])//2], 3),
                   cpu_s_median=round(sorted(cpu[1:])[len(cpu[1:])//2], 3),
                   step_s_all=" ".join(f"{x:.2f}" for x in times), loadavg_1m=round(os.getloadavg()[0], 2))
        append_row(path, row); print("timing", row, flush=True)
        del student, opt, cached
    torch.set_num_threads(ctx.args.threads)


def part_recovery(ctx, imp):
    path = ctx.out/"recovery.csv"
    samples_path = ctx.out/"samples.json"
    done = done_keys(path, ["student", "mode", "lr", "seed", "step"])
    stopped = done_keys(ctx.out/"stops.csv", ["student", "mode", "lr", "seed"])
    a = ctx.args
    runs = []
    for seed in a.seeds:
        for n_keep, strategy in a.recovery_students:
            for mode in a.modes:
                runs.append((n_keep, strategy, mode, a.lr, seed))
    for n_keep, strategy, mode, lr, seed in runs:
        name = {"width": f"heads + mlp = depth {n_keep}", "mlp": f"mlp = depth {n_keep}",
                "scratch": f"scratch = depth {n_keep}"}.get(strategy, f"depth {n_keep} {strategy}")
        if (name, mode, str(lr), str(seed), str(a.steps)) in done or (name, mode, str(lr), str(seed)) in stopped: continue
        torch.manual_seed(seed)
        if strategy in ("width", "mlp"):
            keep = []
            _, student = width_student(ctx.teacher32, ctx.calib, a.batch, n_keep, heads=strategy == "width")
        elif strategy == "scratch":
            keep = []
            shape = prune_layers(ctx.teacher32, keep_layers(ctx, imp, n_keep))
            torch.manual_seed(seed)
            student = type(shape)(shape.config).float()                  # the same shape, a random init
            del shape
        else:
            keep = keep_layers(ctx, imp, n_keep, strategy)
            student = prune_layers(ctx.teacher32, keep)
        opt = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.0)
        batches = train_batches(ctx, seed, a.steps)
        params, share = parameter_share(student, ctx.teacher)
        train_s, train_cpu_s, last_loss, start = 0.0, 0.0, float("nan"), 0
        ckpt = ckpt_path(ctx, name, mode, lr, seed)
        if ckpt.exists():                                   # a long run cut short: continue where it stopped
            state = torch.load(ckpt, weights_only=False)
            student.load_state_dict(state["student"]); opt.load_state_dict(state["opt"])
            start, train_s, train_cpu_s, last_loss = state["step"], state["train_s"], state["train_cpu_s"], state["last_loss"]
            print(f"resuming {name} | {mode} | seed {seed} at step {start}", flush=True)
        target = match_target(ctx, n_keep, lr, seed) if (mode == "hard" or strategy == "scratch") else None
        for step in range(start, a.steps + 1):
            if step > start and step % a.checkpoint_every == 0:
                torch.save(dict(student=student.state_dict(), opt=opt.state_dict(), step=step, train_s=train_s,
                                train_cpu_s=train_cpu_s, last_loss=last_loss), ckpt)
            if step % a.eval_every == 0 or step == a.steps:
                row = dict(student=name, layers=" ".join(map(str, keep)), mode=mode, lr=lr, seed=seed, step=step, tokens=step * a.batch * 128,
                           params=params, share=round(share, 4), train_loss=last_loss,
                           **score(student, ctx.evalw, ctx.t_eval, a.batch), train_s=round(train_s, 1),
                           train_cpu_s=round(train_cpu_s, 1),
                           loadavg_1m=round(os.getloadavg()[0], 2))
                if (name, mode, str(lr), str(seed), str(step)) not in done: append_row(path, row)
                print("recovery", row, flush=True)
                if a.stop_ppl is not None and row["ppl"] <= a.stop_ppl:   # reached the bar: the run is done
                    append_row(ctx.out/"stops.csv", dict(student=name, mode=mode, lr=lr, seed=seed, step=step, ppl=row["ppl"],
                                                        target_ppl=a.stop_ppl, reason="reached --stop-ppl"))
                    break
                if target is not None and row["ppl"] <= target:      # matched the distilled student: tokens-to-match found
                    append_row(ctx.out/"stops.csv", dict(student=name, mode=mode, lr=lr, seed=seed, step=step, ppl=row["ppl"],
                                                        target_ppl=target, reason="matched"))
                    break
            if step == a.steps: break
            t0, c0 = time.perf_counter(), time.process_time()
            last_loss = step_fn(student, opt, batches[step], mode, ctx.live)
            train_s += time.perf_counter() - t0; train_cpu_s += time.process_time() - c0
        text = generate_response(PROMPT, ctx.tok, student, max_new_tokens=40, do_sample=False)
        samples = json.loads(samples_path.read_text()) if samples_path.exists() else {}   # another run may have written
        samples[f"{name} | {mode} | lr {lr} | seed {seed} | {step} steps"] = text
        samples_path.write_text(json.dumps(samples, indent=1, ensure_ascii=False) + "\n")
        ckpt.unlink(missing_ok=True)
        del student, opt


def ckpt_path(ctx, name, mode, lr, seed):
    "Where a recovery run keeps its checkpoint while it runs (deleted when it ends)."
    folder = Path(ctx.args.checkpoint_dir); folder.mkdir(parents=True, exist_ok=True)
    return folder/(f"{name}-{mode}-{lr}-{seed}".replace(" ", "_").replace("=", "").replace("+", "") + ".pt")


def match_target(ctx, n_keep, lr, seed):
    "The held-out perplexity the distilled N:importance student reached at step --match-step (same lr, seed), or None."
    if ctx.args.match_step is None or not (ctx.out/"recovery.csv").exists(): return None
    table = pd.read_csv(ctx.out/"recovery.csv")
    row = table[(table.student == f"depth {n_keep} importance") & (table["mode"] == "kd") & (table.lr == lr)
                & (table.seed == seed) & (table.step == ctx.args.match_step)]
    if row.empty: raise SystemExit(f"--match-step {ctx.args.match_step}: no distilled run of depth {n_keep} importance, "
                                   f"lr {lr}, seed {seed} reached that step yet: run it first (--modes kd)")
    return float(row.ppl.iloc[0])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="nbs/prune")
    p.add_argument("--parts", nargs="+", default=["importance", "depth", "width", "timing", "recovery"])
    p.add_argument("--threads", type=int, default=1, help="torch threads for everything but the timing part")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"])
    p.add_argument("--reviews", type=int, default=1000)
    p.add_argument("--calib", type=int, default=16)
    p.add_argument("--eval", type=int, default=32)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--keep", type=int, nargs="+", default=[20, 16, 12, 10])
    p.add_argument("--score", default="best", help="the importance score the timing and recovery students are chosen by "
                   "(best: the one whose cut had the lowest KL in depth.csv)")
    p.add_argument("--timing-keep", type=int, nargs="+", default=[16, 12])
    p.add_argument("--timing-threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--recovery-students", nargs="+", default=["16:importance", "12:importance"],
                   help="N:STRATEGY, STRATEGY one of importance, every_other, first, last (depth pruning to N blocks), "
                        "width (one key/value group + MLP neurons) or mlp (MLP neurons only) at the parameters of N blocks, "
                        "or scratch (the shape of N:importance, randomly initialised)")
    p.add_argument("--modes", nargs="+", default=["kd", "hard"], choices=["kd", "hard"],
                   help="kd: alpha = 0, KL at T = 1 to the live teacher; hard: alpha = 1, next-token cross-entropy")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--eval-every", type=int, default=5)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--checkpoint-every", type=int, default=20, help="recovery runs save a checkpoint this often and resume from it")
    p.add_argument("--checkpoint-dir", default="runs/prune_checkpoints")
    p.add_argument("--stop-ppl", type=float, default=None, help="a run stops at the first scored step at or below this perplexity")
    p.add_argument("--match-step", type=int, default=None,
                   help="hard-label and from-scratch runs stop as soon as their held-out perplexity reaches the distilled "
                        "N:importance run's at this step (same lr and seed): the steps each needs to match it (stops.csv)")
    a = p.parse_args()
    a.recovery_students = [(int(s.split(":")[0]), s.split(":")[1]) for s in a.recovery_students]
    torch.set_num_threads(a.threads)
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    dtype = torch.bfloat16 if a.dtype == "bfloat16" or (a.dtype == "auto" and native_bf16()) else torch.float32

    class Ctx: pass
    ctx = Ctx(); ctx.args, ctx.out = a, out
    t0 = time.time()
    ctx.tok = load_tokenizer(SMOLLM2)
    train_w, valid_w = prepare_windows(ctx.tok, None, a.reviews, context_size=128, stride=128, seed=0, progress=False)
    g = torch.Generator().manual_seed(1234)
    order = torch.randperm(len(train_w), generator=g)
    ctx.calib = torch.stack([train_w[int(i)] for i in order[:a.calib]])
    ctx.pool = torch.stack([train_w[int(i)] for i in order[a.calib:]])     # training windows, never the calibration ones
    ctx.evalw = spread(valid_w, a.eval)
    ctx.teacher32 = load_teacher(SMOLLM2, device="cpu", dtype=torch.float32)
    ctx.teacher = ctx.teacher32 if dtype == torch.float32 else load_teacher(SMOLLM2, device="cpu", dtype=dtype)
    ctx.live = ctx.teacher
    ctx.live_dtype = dtype
    print(f"setup {time.time()-t0:.0f} s: {len(train_w)} train / {len(valid_w)} valid windows", flush=True)
    t_path = out/"teacher.json"
    ctx.t_eval = teacher_logits(ctx.teacher, ctx.evalw, a.batch)
    if not t_path.exists():
        t_path.write_text(json.dumps(dict(teacher=SMOLLM2, dtype=str(dtype), params=parameter_share(ctx.teacher, ctx.teacher)[0],
                                          **score(ctx.teacher, ctx.evalw, ctx.t_eval, a.batch),
                                          ppl_fp32=score(ctx.teacher32, ctx.evalw, ctx.t_eval, a.batch)["ppl"]), indent=1) + "\n")
    meta_path = out/"meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"runs": []}
    meta.update(teacher=SMOLLM2, data=dict(reviews=a.reviews, context=128, stride=128, split_seed=0, valid_frac=0.1,
                                           train_windows=len(train_w), valid_windows=len(valid_w),
                                           calibration_windows=a.calib, eval_windows=a.eval, eval_tokens=a.eval * 127),
                forward_dtype=str(dtype), student_dtype="torch.float32", live_teacher_dtype=str(dtype))
    meta["runs"].append(dict(pid=os.getpid(), started=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), parts=a.parts, threads=a.threads,
                             device="cpu", cpu=platform.processor() or platform.machine(), cores=os.cpu_count(),
                             torch=torch.__version__, native_bf16=native_bf16(), loadavg_at_start=os.getloadavg(),
                             seeds=a.seeds, steps=a.steps, lr=a.lr, score=a.score))
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    imp = part_importance(ctx)
    if "depth" in a.parts: part_depth(ctx, imp)
    if "width" in a.parts: part_width(ctx)
    if "recovery" in a.parts: part_recovery(ctx, imp)
    if "timing" in a.parts: part_timing(ctx, imp)
    meta = json.loads(meta_path.read_text())       # another run may have added its own entry since
    mine = [r for r in meta["runs"] if r.get("pid") == os.getpid() and "finished" not in r][-1]
    mine.update(finished=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), loadavg_at_end=os.getloadavg())
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    print(f"done in {time.time()-t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
