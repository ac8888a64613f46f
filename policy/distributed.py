"""`bcz train workers=N`: the same training run on N data-parallel Ray Train workers.

Ray Train's `TorchTrainer` starts the workers and their process group (gloo on CPUs, NCCL on GPUs with
`use_gpu=true`), on this machine or on a cluster joined with `ray.address=auto`. Every worker runs
`policy.train.Trainer` as a single process would, through a `RayReplica`: it reads its interleaved rows
of the global batch (`batch_size` per worker, drawn by the same seeded generator on every worker, so N
workers train on exactly the samples one worker would at N times the batch), its model is wrapped in
DistributedDataParallel (gradients averaged), the step's duration is the slowest worker's (budgets and
learning-rate schedules stay in step), and rank 0 writes: TensorBoard, validation, rollouts and the
self-describing `checkpoints/last|min_NNN|final`. Each `last` is reported to Ray Train, which restarts
the workers from it when one dies (`max_failures`); a run stopped with N workers resumes with M, since a
checkpoint does not depend on N. The progress bar is drawn here, fed by rank 0 through a Ray queue.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import threading
from pathlib import Path

import torch
from rich.console import Console

from data_collection import cluster
from policy.replica import Replica, TrainProgress
from policy.run_outputs import summary_table
from policy.train import Trainer
from policy.train_config import Rollouts, TrainConfig


def train_on_ray(cfg: TrainConfig, output_dir: Path, console: Console, rollouts: Rollouts | None) -> dict:
    """Train (or resume) into `output_dir` on `cfg.workers` Ray Train workers; the summary of the run."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer
    from ray.util.queue import Queue

    output_dir = output_dir.resolve()
    threads = cfg.threads or 1
    if not (output_dir / "checkpoints" / "last" / "train_state.pt").is_file():
        shutil.rmtree(output_dir / "ray", ignore_errors=True)  # a run started afresh: no old records
    started = cluster.connect(cfg.ray, workers=cfg.workers * threads)
    try:
        queue = Queue(actor_options={"num_cpus": 0})
        trainer = TorchTrainer(
            _worker_loop,
            train_loop_config={
                "cfg": cfg,
                "output_dir": str(output_dir),
                "cwd": os.getcwd(),
                "rollouts": rollouts,
                "queue": queue,
            },
            torch_config=TorchConfig(backend="nccl" if cfg.use_gpu else "gloo"),
            scaling_config=ScalingConfig(
                num_workers=cfg.workers, use_gpu=cfg.use_gpu, resources_per_worker={"CPU": threads}
            ),
            run_config=RunConfig(
                name="train",
                storage_path=str(output_dir / "ray"),
                failure_config=FailureConfig(max_failures=cfg.max_failures),
                checkpoint_config=CheckpointConfig(num_to_keep=1),
            ),
        )
        where = "one GPU each, NCCL" if cfg.use_gpu else f"{threads} CPU thread(s) each, gloo"
        console.print(
            f"training on {cfg.workers} Ray Train workers ({where}): global batch "
            f"{cfg.batch_size * cfg.workers} ({cfg.workers} x {cfg.batch_size}), lr {cfg.lr:g}"
        )
        done = threading.Event()
        shown = threading.Thread(target=_show_progress, args=(queue, done, console), daemon=True)
        shown.start()
        try:
            trainer.fit()  # on the main thread: Ray Train's own Ctrl-C handling stops the workers
        finally:
            done.set()
            shown.join(timeout=10)
    finally:
        cluster.disconnect(started)
    last = output_dir / "checkpoints" / "last" / "train_state.pt"
    state = torch.load(last, weights_only=False)["state"]
    final = output_dir / "checkpoints" / "final"
    console.print(summary_table(state, final))
    return {**state, "checkpoint": str(final)}


def _show_progress(queue, done: threading.Event, console: Console) -> None:
    """Draw rank 0's progress bar and print its lines here until the run is `done` and the queue is
    drained (a restarted run starts a new bar)."""
    from ray.util.queue import Empty

    bar: TrainProgress | None = None
    while True:
        try:
            kind, args = queue.get(timeout=0.5)
        except Empty:
            if done.is_set():
                break
            continue
        if kind == "start":
            if bar is not None:
                bar.close()
            bar = TrainProgress(console, *args)
        elif kind == "update" and bar is not None:
            bar.update(*args)
        elif kind == "close" and bar is not None:
            bar.close()
            bar = None
        elif kind == "print":
            console.print(*args, end="", markup=False, highlight=False)
    if bar is not None:
        bar.close()


class _QueuedText(io.TextIOBase):
    """Rank 0's console output, printed by the driver: Ray's own worker logs stay in Ray's log files."""

    def __init__(self, queue) -> None:
        self.queue = queue

    def write(self, text: str) -> int:
        if text:
            self.queue.put_nowait(("print", (text,)))
        return len(text)


class _QueuedWarnings(logging.Handler):
    """Rank 0's warnings (e.g. a fine-tune dropping the instruction reader), printed by the driver."""

    def __init__(self, queue) -> None:
        super().__init__(logging.WARNING)
        self.queue = queue

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(("print", (f"{record.levelname.lower()}: {record.getMessage()}\n",)))
        except Exception:  # a warning must never stop training
            self.handleError(record)


class _QueuedProgress:
    """Rank 0's progress bar, sent to the driver's (`_show_progress`) through a Ray queue."""

    def __init__(self, queue, total: float, completed: float, step: int, batch: int) -> None:
        self.queue = queue
        self.queue.put_nowait(("start", (total, completed, step, batch)))

    def update(self, completed: float, step: int, loss: str, sps: str) -> None:
        self.queue.put_nowait(("update", (completed, step, loss, sps)))

    def close(self) -> None:
        self.queue.put_nowait(("close", ()))


class RayReplica(Replica):
    """One of the Ray Train workers of a run (its rank, the process group, checkpoint reporting)."""

    summary_here = False  # the driver prints the summary table

    def __init__(self, queue, use_gpu: bool) -> None:
        import ray.train
        import ray.train.torch

        context = ray.train.get_context()
        self.rank, self.world = context.get_world_rank(), context.get_world_size()
        self.queue = queue
        self.on = ray.train.torch.get_device() if use_gpu else torch.device("cpu")

    def device(self, cfg: TrainConfig) -> torch.device:
        return self.on

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        from ray.train.torch import prepare_model

        return prepare_model(model, move_to_device=False)

    def _all_reduce(self, value: float, op) -> float:
        tensor = torch.tensor([value], dtype=torch.float64, device=self.on)
        torch.distributed.all_reduce(tensor, op=op)
        return float(tensor.item())

    def agree(self, seconds: float) -> float:
        return self._all_reduce(seconds, torch.distributed.ReduceOp.MAX)

    def sync(self) -> None:
        torch.distributed.barrier()

    def mean(self, value: float) -> float:
        return self._all_reduce(value, torch.distributed.ReduceOp.SUM) / self.world

    def figures(self, model: torch.nn.Module) -> dict[str, float]:
        """DDP's own timing of the gradient all-reduce (sampled every 100 steps): its average milliseconds
        per step, and the part not hidden behind the backward pass."""
        data = model._get_ddp_logging_data() if hasattr(model, "_get_ddp_logging_data") else {}
        if not data.get("avg_backward_comm_time"):
            return {}
        comm, overlap = data["avg_backward_comm_time"], data.get("avg_backward_compute_comm_overlap_time", 0)
        return {"allreduce_ms": comm / 1e6, "allreduce_exposed_ms": max(comm - overlap, 0) / 1e6}

    def progress(self, console: Console, total: float, completed: float, step: int, batch: int):
        return _QueuedProgress(self.queue, total, completed, step, batch) if self.is_main else None

    def checkpoint(self) -> Path | None:
        import ray.train

        reported = ray.train.get_checkpoint()
        return Path(reported.path) if reported is not None and Path(reported.path).is_dir() else None

    def report(self, state: dict, checkpoint: Path) -> None:
        import ray.train

        metrics = {"step": state["step"], "loss": state.get("last_loss", float("nan"))}
        kept = ray.train.Checkpoint.from_directory(str(checkpoint)) if self.is_main else None
        ray.train.report(metrics, checkpoint=kept)


def _worker_loop(config: dict) -> None:
    """One Ray Train worker: the run's `Trainer`, as this worker's `RayReplica`."""
    if os.path.isdir(config["cwd"]):  # relative dataset and checkpoint paths, as the user typed them
        os.chdir(config["cwd"])
    cfg: TrainConfig = config["cfg"]
    torch.set_num_threads(cfg.threads or 1)
    queue = config["queue"]
    replica = RayReplica(queue, cfg.use_gpu)
    console = Console(file=_QueuedText(queue), width=100) if replica.is_main else Console(quiet=True)
    if replica.is_main:
        logging.getLogger().addHandler(_QueuedWarnings(queue))
    Trainer(cfg, Path(config["output_dir"]), console, config["rollouts"], replica).run()
