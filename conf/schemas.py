"""Structured-config schemas behind conf/*.yaml: Hydra type-checks every override against them and
names the key when one is wrong (e.g. `env.robot.control_hz=fast`)."""

from __future__ import annotations

from hydra.core.config_store import ConfigStore


def register() -> None:
    from data_collection.check import DatasetToolConfig
    from data_collection.collect import CollectConfig
    from data_collection.relabel import RelabelConfig
    from data_collection.teleop.session import TeleopConfig
    from deploy.run import RunConfig
    from policy.dagger import DaggerConfig
    from policy.evaluate import EvalConfig
    from policy.train import TrainConfig
    from sim.demo import DemoConfig
    from sim.tasks_cli import TasksConfig

    cs = ConfigStore.instance()
    cs.store(name="demo_schema", node=DemoConfig)
    cs.store(name="tasks_schema", node=TasksConfig)
    cs.store(name="collect_schema", node=CollectConfig)
    cs.store(name="dataset_schema", node=DatasetToolConfig)
    cs.store(name="teleop_schema", node=TeleopConfig)
    cs.store(name="relabel_schema", node=RelabelConfig)
    cs.store(name="train_schema", node=TrainConfig)
    cs.store(name="eval_schema", node=EvalConfig)
    cs.store(name="dagger_schema", node=DaggerConfig)
    cs.store(name="run_schema", node=RunConfig)
