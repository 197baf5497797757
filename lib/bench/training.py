"""Training speed and memory, measured interleaved (tools/benchmark.py --train).

Every path runs in its own process (bench.fresh_process), so that its allocator settings and its
peak memory are its own, and the processes take turns: one step (or one epoch) each, round after
round, so a busy machine slows them alike.

- Steps: one optimisation step (forward, loss, backward, update) of a --cfg model on a random
  batch, through `TrainStep`, the Trainer's own step. "original" is the step as the original
  code trains: eager float32, NCHW, PyTorch's default optimizer, the gradients zeroed in place
  and kept, the loss copied to the host after every step, glibc's default allocator;
  "original-amp" (only when asked) is that step with channels_last and autocast. The others are
  this project's paths with the process set-up every tool makes
  (`utils.allocator.set_allocator_options`); "mixed-native-norms" (only when asked) is the
  mixed-precision path without `models.padded_batchnorm`.
- Memory: each process's peak RSS, its RSS before the job was built, and (CPU) the peak of live
  tensors during one more, profiled step (CUDA: max_memory_allocated); and the minor page faults
  per step, which glibc's default allocator causes by giving freed memory back to the OS.
- Demo epochs: whole epochs of `experiments/demo` (data loading included) through `Trainer`:
  images per second, the mean loss of each epoch and, after the last one, the validation mIoU
  (untimed), for one or more seeds, one seed after the other. 10 epochs are 200 steps: mixed
  precision's loss is compared there with fp32's from the same seed (same weights, data order
  and augmentation), seed by seed.

Weights are random He-normal (bench.model_setup), as in the inference benchmarks.
"""

import contextlib
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from bench.fresh_process import FreshProcess
from bench.model_setup import he_normal_
from bench.timing import summary

__all__ = [
    "DEMO_ROWS",
    "STEP_CFGS",
    "STEP_ROWS",
    "format_demo_table",
    "format_step_table",
    "measure_demo_epochs",
    "measure_steps",
    "paired_change",
    "print_training",
]

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
DEMO_CFG = EXPERIMENTS / "demo/seg_hrnet_w18_small_v1_demo.yaml"
# The models of the step table by default: W18-Small-v2 and W48 as the original trains them.
STEP_CFGS = [
    EXPERIMENTS / "cityscapes" / f"seg_hrnet_{name}_512x1024_sgd_lr1e-2_wd5e-4_bs_12_epoch484.yaml"
    for name in ("w18_small_v2", "w48_train")
]
ORIGINAL = ["TRAIN.CHANNELS_LAST", "False", "TRAIN.AMP", "False"]
_MEASURED_STEP = "benchmark: measured step"


@dataclass(frozen=True)
class Variant:
    """One measured variant: its label, config overrides and process set-up."""

    label: str
    opts: tuple = ()
    allocator: bool = True  # utils.allocator.set_allocator_options (False: glibc's defaults)
    fused: bool = True  # fused optimizer (False: PyTorch's default implementation)
    # steps: False zeroes the gradients in place and keeps them between steps (PyTorch 1.x)
    free_grads: bool = True
    sync: bool = False  # copy the loss to the host after every step
    # steps: BatchNorms of few channels: backward on padded channels (models.padded_batchnorm)
    padded_norms: bool = True


_ORIGINAL_STEP = Variant(
    "original: eager fp32 NCHW, loss to the host every step, glibc allocator",
    tuple(ORIGINAL),
    allocator=False,
    fused=False,
    sync=True,
    free_grads=False,
    padded_norms=False,
)
STEP_ROWS = {
    "original": _ORIGINAL_STEP,
    # The original's step with channels_last and autocast as its only changes: what these two
    # give on their own, against the rest of this project's mixed-precision path.
    "original-amp": replace(
        _ORIGINAL_STEP,
        label="original + channels_last + autocast, nothing else",
        opts=("TRAIN.CHANNELS_LAST", "True", "TRAIN.AMP", "True"),
    ),
    "fp32": Variant("this project, fp32 (TRAIN.AMP False)", ("TRAIN.AMP", "False")),
    "mixed": Variant("this project, mixed precision (TRAIN.AMP True)", ("TRAIN.AMP", "True")),
    "mixed-native-norms": Variant(
        "mixed precision, PyTorch's BatchNorm backward for every channel count",
        ("TRAIN.AMP", "True"),
        padded_norms=False,
    ),
    "checkpoint": Variant(
        "mixed precision + TRAIN.GRAD_CHECKPOINT",
        ("TRAIN.AMP", "True", "TRAIN.GRAD_CHECKPOINT", "True"),
    ),
    "compile": Variant(
        "mixed precision + TRAIN.COMPILE (compiled beforehand)",
        ("TRAIN.AMP", "True", "TRAIN.COMPILE", "True"),
    ),
}
DEMO_ROWS = {
    "original": Variant(
        "original: eager fp32 NCHW, loss to the host every step, glibc allocator",
        (*ORIGINAL, "PRINT_FREQ", "1"),
        allocator=False,
        fused=False,
    ),
    "fp32": Variant("this project, fp32 (TRAIN.AMP False)", ("TRAIN.AMP", "False")),
    "mixed": Variant("this project, the demo YAML (TRAIN.AMP True)"),
}


@dataclass
class _Job:
    """What a worker process builds: `kind` "step" (a TrainStep on a random batch) or "demo"
    (a Trainer on the demo data in `root`)."""

    kind: str
    variant: Variant
    cfg_file: str
    opts: list = field(default_factory=list)
    size: tuple = (256, 512)
    batch: int = 2
    threads: int = 2
    device: str = "cpu"
    root: str = ""
    epochs: int = 0  # demo: validate after this many epochs
    seed: int = 0  # demo: the Trainer's seed (weights, data order, augmentation)


def _memory_mb(device):
    """Peak memory so far: resident set (CPU) or PyTorch's allocations (CUDA), in MiB."""
    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return _resident_mb("VmHWM")


def _resident_mb(field_name="VmRSS"):
    """This process's resident (VmRSS) or peak resident (VmHWM) memory in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _page_faults():
    """Minor page faults of this process so far: memory the OS maps in (and zeroes) on first
    touch, e.g. after glibc gave freed blocks back."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


@contextlib.contextmanager
def _stderr_silenced():
    """File descriptor 2 to /dev/null: the profiler's C++ side prints its start, stop and
    warnings there."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def random_batch(num_classes, batch, size, seed=0):
    """(uint8 images (B, 3, H, W), int64 labels (B, H, W)): smooth random images and regions."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, 3 + num_classes, 8, 16, generator=generator)
    fine = F.interpolate(coarse, size=tuple(size), mode="bilinear", align_corners=False)
    images = (fine[:, :3] * 255).to(torch.uint8)
    return images, fine[:, 3:].argmax(1)


class _StepJob:
    """A TrainStep of `job`'s model on a random batch; calling it times one step."""

    def __init__(self, job):
        from config import load_config
        from core.criterion import build_criterion
        from core.train_step import TrainStep
        from models import build_model
        from utils.distributed import DistInfo

        cfg = load_config(job.cfg_file, ["MODEL.PRETRAINED", "", *job.opts, *job.variant.opts])
        torch.manual_seed(0)
        model = he_normal_(build_model(cfg, pretrained=False))
        dist = DistInfo(rank=0, local_rank=0, world_size=1, device=torch.device(job.device))
        variant = job.variant
        self.step = TrainStep(
            cfg,
            model,
            build_criterion(cfg),
            dist,
            variant.fused,
            free_grads=variant.free_grads,
            padded_norms=variant.padded_norms,
        )
        self.batch = random_batch(cfg.DATASET.NUM_CLASSES, job.batch, job.size)
        self.sync = variant.sync
        self.cuda = dist.device.type == "cuda"

    def __call__(self, _request):
        faults = _page_faults()
        start = time.perf_counter()
        loss = self.step(*self.batch)
        if self.sync:
            loss = loss.item()
        if self.cuda:
            torch.cuda.synchronize(self.step.device)
        seconds = time.perf_counter() - start
        return {
            "seconds": seconds,
            "faults": _page_faults() - faults,
            "loss": float(loss),
            "dtype": str(self.step.dtype or "fp32"),
        }

    def tensor_peak_mb(self):
        """Peak bytes of live tensors during one more step, on the CPU (what CUDA's
        max_memory_allocated counts): the tensors held between steps (weights, gradients,
        optimizer state, the batch) plus the largest rise above them, from the allocations and
        frees PyTorch's profiler records. Two steps are profiled so that every block freed in the
        second one was allocated under the profiler."""
        from torch.profiler import ProfilerActivity, profile, record_function

        with (
            _stderr_silenced(),
            profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler,
        ):
            self(None)
            held = sum(t.nbytes for t in self._held_tensors())
            with record_function(_MEASURED_STEP):
                self(None)
        events = profiler.profiler.kineto_results.events()
        start = next(e.start_ns() for e in events if e.name() == _MEASURED_STEP)
        rise = peak = 0
        for nanoseconds, nbytes in sorted(
            (e.start_ns(), e.nbytes()) for e in events if e.name() == "[memory]"
        ):
            if nanoseconds >= start:
                rise += nbytes
                peak = max(peak, rise)
        return (held + peak) / 2**20

    def _held_tensors(self):
        net, optimizer = self.step.net, self.step.optimizer
        yield from net.parameters()
        yield from net.buffers()
        yield from (p.grad for p in net.parameters() if p.grad is not None)
        for state in optimizer.state.values():
            yield from (value for value in state.values() if torch.is_tensor(value))
        yield from self.batch


def _demo_job(job):
    from config import load_config
    from core.trainer import DEFAULT_SEED, Trainer, seed_everything
    from utils.distributed import DistInfo

    root = Path(job.root)
    opts = ["DATASET.ROOT", str(root), "DATASET.COLOR_MAP", str(root / "colorMap.txt")]
    cfg = load_config(job.cfg_file, [*opts, *job.opts, *job.variant.opts])
    dist = DistInfo(rank=0, local_rank=0, world_size=1, device=torch.device(job.device))
    output = Path(tempfile.mkdtemp(dir=root, prefix="run_"))
    seed = DEFAULT_SEED + job.seed
    seed_everything(seed)
    trainer = Trainer(cfg, dist, output, seed=seed, fused_optimizer=job.variant.fused)
    batches = trainer.train_loader.sampler.batches_per_epoch
    images = batches * cfg.TRAIN.BATCH_SIZE_PER_GPU
    sys.stderr = open(os.devnull, "w")  # the epochs' progress bars

    def run(epoch):
        start = time.perf_counter()
        loss = trainer.train_epoch(epoch)
        seconds = time.perf_counter() - start
        dtype = str(trainer.train_step.dtype or "fp32")
        miou = trainer.evaluate(epoch)["mIoU"] if epoch + 1 == job.epochs else None
        return {
            "seconds": seconds,
            "loss": loss,
            "steps": batches,
            "images": images,
            "dtype": dtype,
            "mIoU": miou,
        }

    return run


class _Served:
    """What a path's process holds: its job's measuring function and the memory before the job
    was built."""

    def __init__(self, job):
        self.device = job.device
        self.before = _resident_mb()
        self.run = (_StepJob if job.kind == "step" else _demo_job)(job)

    def __call__(self, request):
        return self.run(request)

    def memory(self):
        """Peak memory, the memory of the process before the job was built (CPU) and the peak of
        live tensors (CUDA: the peak memory itself; CPU: from one more, profiled step)."""
        peak = _memory_mb(self.device)  # before the profiler's own memory
        if torch.device(self.device).type != "cpu":
            return {"peak_mb": peak, "runtime_mb": 0.0, "tensor_mb": peak}
        tensors = self.run.tensor_peak_mb() if isinstance(self.run, _StepJob) else None
        return {"peak_mb": peak, "runtime_mb": self.before, "tensor_mb": tensors}


def _interleaved(jobs, requests, warmup):
    """Start a process per job, send each `warmup` untimed requests, then every request of
    `requests` to every process in turn; returns per job (list of results, memory)."""
    workers = []
    try:
        for job in jobs:
            setup = {"allocator": job.variant.allocator, "threads": job.threads}
            workers.append(FreshProcess(_Served, job, name=job.variant.label, **setup))
        for worker in workers:
            for request in range(warmup):
                worker(request)
        results = [[] for _ in workers]
        for request in requests:
            for index, worker in enumerate(workers):
                results[index].append(worker(request))
        measured = [
            (result, worker.call("memory")) for result, worker in zip(results, workers, strict=True)
        ]
        for worker in workers:
            worker.close()
        return measured
    finally:
        for worker in workers:
            worker.kill()


# Untimed steps per path before the rounds: this project's paths grow their heap, and fault pages
# in, during their first few steps.
WARMUP_STEPS = 3


def measure_steps(
    cfg_file, rows, size, batch, rounds, threads, opts=(), device="cpu", warmup=WARMUP_STEPS
):
    """Interleaved training steps of `cfg_file` for each row name of STEP_ROWS, after `warmup`
    untimed steps each; one dict per row: seconds per round, the median of the page faults per
    step, loss of the last step, autocast type, peak and runtime memory, the warm-up steps."""
    jobs = [
        _Job("step", STEP_ROWS[row], str(cfg_file), list(opts), tuple(size), batch, threads, device)
        for row in rows
    ]
    measured = _interleaved(jobs, range(rounds), warmup)
    return [
        {
            "config": Path(cfg_file).stem.split("_sgd")[0],
            "row": row,
            "seconds": [r["seconds"] for r in results],
            "faults": statistics.median(r["faults"] for r in results),
            "loss": results[-1]["loss"],
            "dtype": results[-1]["dtype"],
            "images": batch,
            "warmup": warmup,
            **memory,
        }
        for row, (results, memory) in zip(rows, measured, strict=True)
    ]


def measure_demo_epochs(
    epochs, rows=tuple(DEMO_ROWS), threads=2, device="cpu", opts=(), seeds=1
):  # fmt: skip
    """`epochs` demo epochs (data loading included) for each row of DEMO_ROWS and each of
    `seeds` seeds (tools/train.py's seed and the next ones), on the demo's data written to a
    temporary folder. Seed after seed, the rows' processes take turns epoch by epoch. One dict
    per row: seconds of every epoch, the mean loss of each epoch averaged over the seeds, the
    last epoch's loss per seed, images per epoch, autocast type, and the validation mIoU after
    the last epoch averaged over the seeds."""
    from datasets.demo_data import write_demo_dataset

    runs = {row: [] for row in rows}  # per row, per seed: the results of every epoch
    with tempfile.TemporaryDirectory() as folder:
        root = write_demo_dataset(Path(folder) / "demo")
        for seed in range(seeds):
            jobs = [
                _Job(
                    "demo",
                    DEMO_ROWS[row],
                    str(DEMO_CFG),
                    list(opts),
                    threads=threads,
                    device=device,
                    root=str(root),
                    epochs=epochs,
                    seed=seed,
                )  # fmt: skip
                for row in rows
            ]
            measured = _interleaved(jobs, range(epochs), warmup=0)
            for row, (results, _memory) in zip(rows, measured, strict=True):
                runs[row].append(results)
    return [
        {
            "row": row,
            "seconds": [r["seconds"] for results in runs[row] for r in results],
            "losses": [
                sum(results[epoch]["loss"] for results in runs[row]) / seeds
                for epoch in range(epochs)
            ],
            "last_losses": [results[-1]["loss"] for results in runs[row]],
            "steps": runs[row][0][0]["steps"],
            "images": runs[row][0][0]["images"],
            "dtype": runs[row][0][0]["dtype"],
            "mIoU": sum(results[-1]["mIoU"] for results in runs[row]) / seeds,
        }
        for row in rows
    ]


def paired_change(values, references):
    """(mean, standard error) over the pairs of `values[i] / references[i] - 1`, e.g. one seed's
    loss against another path's with the same seed; the error is None for a single pair."""
    changes = [value / reference - 1 for value, reference in zip(values, references, strict=True)]
    mean = sum(changes) / len(changes)
    if len(changes) < 2:
        return mean, None
    return mean, statistics.stdev(changes) / math.sqrt(len(changes))


def _ratio(reference, value):
    return f"{reference / value:.2f}x" if reference else "-"


def format_step_table(rows, size, batch, device="cpu"):
    """Markdown table of `measure_steps` rows (several configs may follow each other)."""
    height, width = size
    memory = "max_memory_allocated" if torch.device(device).type == "cuda" else "peak RSS"
    warmup = rows[0]["warmup"]
    lines = [
        f"one training step at {batch}x3x{height}x{width}, {torch.get_num_threads()} threads; "
        f"each path in its own process, {warmup} untimed warm-up step{'s' * (warmup != 1)} "
        "each, then one step per path per round; speed-up = the original's median / the path's "
        "median; memory: "
        f"{memory}, on the CPU also the peak minus the process's memory before the model was "
        "built (Python + PyTorch runtime), and the peak of live tensors (what "
        "max_memory_allocated counts on CUDA); page faults: the median per step of the minor "
        "page faults, memory the OS maps in and zeroes on first touch",
        "",
        "| config | path | autocast | median (s) | min (s) | max (s) | images/s | vs original "
        f"| {memory} (MB) | minus runtime (MB) | tensors (MB) | loss after the steps "
        "| page faults per step |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    originals = {
        r["config"]: summary(r["seconds"])["median"] for r in rows if r["row"] == "original"
    }
    for r in rows:
        times = summary(r["seconds"])
        seconds = times["median"]
        training = r["peak_mb"] - r["runtime_mb"]
        lines.append(
            f"| {r['config']} | {STEP_ROWS[r['row']].label} | {r['dtype'].replace('torch.', '')} "
            f"| {seconds:.2f} | {times['min']:.2f} | {times['max']:.2f} "
            f"| {r['images'] / seconds:.2f} | {_ratio(originals.get(r['config']), seconds)} "
            f"| {r['peak_mb']:.0f} | {training:.0f} | {r['tensor_mb']:.0f} | {r['loss']:.4f} "
            f"| {r['faults']:.0f} |"
        )
    lines += _checkpoint_lines(rows)
    return "\n".join(lines)


def _checkpoint_lines(rows):
    """Per config with both rows: the checkpointed step against the mixed-precision one (the
    target: at least 40% less peak memory for at most 35% more time)."""
    by_row = {(r["config"], r["row"]): r for r in rows}
    lines = []
    for (config, row), checkpointed in by_row.items():
        plain = by_row.get((config, "mixed"))
        if row != "checkpoint" or plain is None:
            continue
        pair = (plain, checkpointed)
        used = [r["peak_mb"] - r["runtime_mb"] for r in pair]
        tensors = [r["tensor_mb"] for r in pair]
        times = [summary(r["seconds"])["median"] for r in pair]
        lines.append(
            f"{config}: TRAIN.GRAD_CHECKPOINT against mixed precision alone: peak memory "
            f"{used[0]:.0f} -> {used[1]:.0f} MB ({used[1] / used[0] - 1:+.0%}; peak RSS "
            f"{plain['peak_mb']:.0f} -> {checkpointed['peak_mb']:.0f} MB), live tensors "
            f"{tensors[0]:.0f} -> {tensors[1]:.0f} MB ({tensors[1] / tensors[0] - 1:+.0%}), time "
            f"{times[1] / times[0] - 1:+.0%}"
        )
    return ["", *lines] if lines else []


def format_demo_table(rows):
    """Markdown table of `measure_demo_epochs` rows: speed against the original's path, the loss
    of the last epoch against the fp32 path's with the same seed (the mixed-precision target:
    within 5%; with several seeds the mean of the seeds' changes and its standard error, and the
    range of the loss over the seeds) and the validation mIoU after the epochs."""
    seeds = len(rows[0]["last_losses"])
    epochs = len(rows[0]["losses"])
    steps = rows[0]["steps"]
    mean = f", the mean of {seeds} seeds" if seeds > 1 else ""
    last = f"steps {(epochs - 1) * steps + 1}-{epochs * steps}"
    lines = [
        f"the demo ({DEMO_CFG.name}), {epochs} epoch(s) of {steps} steps per path and seed, "
        f"interleaved epoch by epoch, data loading included; loss: the mean training loss of the "
        f"first epoch and of the last one ({last}){mean}; vs fp32: each seed's last-epoch loss "
        "against the fp32 path's with the same seed (same weights, data and augmentation), "
        "averaged over the seeds, +- its standard error; mIoU: validation after the last epoch",
        "",
        "| path | autocast | median epoch (s) | images/s | vs original | loss, first epoch "
        "| loss, last epoch | last epoch, range over seeds | last loss vs fp32 | mIoU |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    medians = {r["row"]: summary(r["seconds"])["median"] for r in rows}
    fp32 = {r["row"]: r["last_losses"] for r in rows}.get("fp32")
    for r in rows:
        seconds = medians[r["row"]]
        original = medians.get("original")
        spread = f"{min(r['last_losses']):.4f}-{max(r['last_losses']):.4f}"
        lines.append(
            f"| {DEMO_ROWS[r['row']].label} | {r['dtype'].replace('torch.', '')} "
            f"| {seconds:.2f} | {r['images'] / seconds:.1f} | {_ratio(original, seconds)} "
            f"| {r['losses'][0]:.4f} | {r['losses'][-1]:.4f} | {spread} "
            f"| {_versus(r['last_losses'], fp32)} | {r['mIoU']:.4f} |"
        )
    return "\n".join(lines)


def _versus(losses, references):
    if references is None:
        return "-"
    change, error = paired_change(losses, references)
    return f"{change:+.1%}" + (f" +- {error:.1%}" if error is not None else "")


def print_training(
    cfg_files, size, batch, rounds, threads, opts=(), device="cpu", demo_epochs=0,
    checkpoint=False, compile=False, paths=None, seeds=1, warmup=WARMUP_STEPS,
):  # fmt: skip
    """Print the step table of `cfg_files` (default STEP_CFGS; none when `rounds` is 0; `warmup`
    untimed steps per path before the rounds) with the `paths` rows of STEP_ROWS (default:
    original, fp32 and mixed precision, and the checkpoint / compile rows when asked), then the
    table of `demo_epochs` demo epochs of `seeds` seeds (none when 0) with the `paths` rows of
    DEMO_ROWS (default: all)."""
    rows = (
        paths or ["original", "fp32", "mixed"] + ["checkpoint"] * checkpoint + ["compile"] * compile
    )
    measured = []
    for cfg_file in (cfg_files or STEP_CFGS) if rounds else ():
        measured += measure_steps(
            cfg_file, rows, size, batch, rounds, threads, opts, device, warmup
        )
    if measured:
        print(format_step_table(measured, size, batch, device))
    demo_rows = [row for row in paths or DEMO_ROWS if row in DEMO_ROWS]
    if demo_epochs and demo_rows:
        demo = measure_demo_epochs(demo_epochs, demo_rows, threads, device, seeds=seeds)
        print()
        print(format_demo_table(demo))
