"""Structured-config schemas behind conf/*.yaml: Hydra type-checks every override against them and
names the key when one is wrong (e.g. `env.robot.control_hz=fast`)."""

from __future__ import annotations

from hydra.core.config_store import ConfigStore


def register() -> None:
    from conf.keys import schema_of
    from conf.verbs import VERBS

    cs = ConfigStore.instance()
    for name in VERBS:
        cs.store(name=f"{name}_schema", node=schema_of(name))
