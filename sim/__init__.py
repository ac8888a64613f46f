"""The simulated tabletop: scenes, objects, tasks with language and success checks, scripted experts,
and the gymnasium env `bcz/Tabletop-v0`."""

import gymnasium

from robot.quiet import import_pybullet_quietly

import_pybullet_quietly()

gymnasium.register(id="bcz/Tabletop-v0", entry_point="sim.env:TabletopEnv")
