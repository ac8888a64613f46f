"""The simulated tabletop: scenes, objects, tasks with language and success checks, scripted experts,
and the gymnasium env `bcz/Tabletop-v0`."""

import gymnasium

gymnasium.register(id="bcz/Tabletop-v0", entry_point="sim.env:TabletopEnv")
