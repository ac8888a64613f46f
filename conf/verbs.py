"""The CLI's verbs, in one table: what runs each (`deploy/cli.py` dispatches), the dataclass its config
is checked against (`conf/keys.py`, `conf/schemas.py`) and the line `bcz --help` prints."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verb:
    target: str  # module:function that runs it
    doc: str  # one line for `bcz --help`
    schema: str  # module:dataclass of its config (conf/<verb>.yaml), checked before Hydra runs
    positional: tuple[str, ...] = ()  # config keys filled by positional arguments, in order


VERBS: dict[str, Verb] = {
    "run": Verb(
        "deploy.run:main",
        "the robot on a policy: type instructions (terminal, or web=true for a page)",
        schema="deploy.run:RunConfig",
    ),
    "demo": Verb(
        "data_collection.demo:main",
        "a scripted expert performs a task from the suite; writes an mp4",
        schema="data_collection.demo:DemoConfig",
    ),
    "tasks": Verb(
        "tasks.cli:main",
        "list the task grid and the train / held-out split",
        schema="tasks.cli:TasksConfig",
    ),
    "collect": Verb(
        "data_collection.collect:main",
        "expert demonstrations on Ray workers into a dataset",
        schema="data_collection.collect:CollectConfig",
    ),
    "teleop": Verb(
        "data_collection.teleop.teleop_session:main",
        "drive the arm from the keyboard / a pad and record demos",
        schema="data_collection.teleop.teleop_session:TeleopConfig",
    ),
    "relabel": Verb(
        "data_collection.relabel:main",
        "hindsight-relabel a dataset from its recorded sim states",
        schema="data_collection.relabel:RelabelConfig",
    ),
    "train": Verb(
        "evaluation.training:main",
        "behavior cloning of a language-conditioned policy (GPU if present)",
        schema="policy.train:TrainConfig",
    ),
    "finetune": Verb(
        "evaluation.finetune:main",
        "teach a checkpoint new tasks; its old ones replayed in the simulator so it keeps them",
        schema="evaluation.finetune:FinetuneConfig",
    ),
    "fit-reader": Verb(
        "policy.fit_reader:main",
        "fit a checkpoint's instruction reader for words it never heard (text only)",
        schema="policy.fit_reader:FitReaderConfig",
    ),
    "interpolate": Verb(
        "policy.interpolate:main",
        "move a fine-tune's weights part way back to its starting policy's (keeps old skills)",
        schema="policy.interpolate:InterpolateConfig",
    ),
    "pack": Verb(
        "policy.pack:main",
        "episodes, sentence vectors and wheels for training on a machine without the rest",
        schema="policy.pack:PackConfig",
    ),
    "dagger": Verb(
        "evaluation.dagger:main",
        "rounds of policy rollouts labelled by the expert (DAgger), then fine-tuning",
        schema="evaluation.dagger:DaggerConfig",
    ),
    "eval": Verb(
        "evaluation.evaluate:main",
        "success per task of a checkpoint in the simulator, on Ray",
        schema="evaluation.evaluate:EvalConfig",
    ),
    "dataset": Verb(
        "data_collection.check:main",
        "check PATH [--repair]: validate a dataset, keep what is intact",
        positional=("action", "path"),
        schema="data_collection.check:DatasetToolConfig",
    ),
}
