"""Low-poly Panda model for fast software rendering.

pybullet_data's Panda visual meshes hold ~100k triangles, and TinyRenderer spends ~24 ms per frame on
them whatever the resolution; its collision meshes (~3k triangles) render in ~2.5 ms at 64x64. We
therefore load a copy of panda.urdf whose visuals point at the collision meshes. The copy is written
once per machine to the user cache, atomically, so parallel workers never read a half-written file.
"""

from __future__ import annotations

from pathlib import Path

import pybullet_data

from conf.files import cache_dir, write_text_atomically


def lowpoly_panda_urdf() -> Path:
    source = Path(pybullet_data.getDataPath()) / "franka_panda" / "panda.urdf"
    meshes = source.parent / "meshes"
    text = source.read_text()
    text = text.replace("package://meshes/visual/", "package://meshes/collision/")
    text = text.replace("package://meshes/", f"{meshes}/")
    return write_text_atomically(cache_dir() / "panda_lowpoly.urdf", text)
