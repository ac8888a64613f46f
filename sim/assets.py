"""Object models as the scene uses them: a URDF's copy whose meshes carry no texture.

Every URDF object is recoloured on loading and its texture dropped (`objects.urdf_builder`), but PyBullet
has already read and decoded the texture by then, and its renderer keeps what that took: the tray's
picture cost a running robot 11 MB the first time a tray was laid out, the duck's 6 MB
(docs/deploy.md, "Holding up under long use"). The copy's visual meshes point at a material file
without its picture lines (`map_Kd` ...), so nothing is decoded; the colours come from the recolouring
as before, and the frames are the same pixel for pixel (tests/test_env.py). The copy is written
once per machine to the user cache, atomically, beside copies of the meshes it needs.
"""

from __future__ import annotations

import functools
import hashlib
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from conf.files import cache_dir, write_text_atomically


def _untextured_mesh(mesh: Path, folder: Path) -> Path:
    """`mesh` copied into `folder` with its material file's picture lines dropped (a mesh that names no
    material file is used where it is)."""
    text = mesh.read_text(errors="replace")
    found = re.search(r"^mtllib\s+(.+?)\s*$", text, re.MULTILINE)
    if mesh.suffix.lower() != ".obj" or not found or not (mesh.parent / found.group(1)).is_file():
        return mesh
    material = (mesh.parent / found.group(1)).read_text(errors="replace")
    write_text_atomically(
        folder / found.group(1),
        re.sub(r"^\s*(map_|bump|disp|decal|refl).*\n?", "", material, flags=re.MULTILINE),
    )
    write_text_atomically(folder / mesh.name, text)
    return folder / mesh.name


@functools.cache
def untextured_urdf(source: Path) -> Path:
    """A copy of the URDF at `source` whose visual meshes have no texture; the collision meshes are the
    original's, by absolute path. Made once per process (and written once per machine)."""
    tree = ET.parse(source)
    folder = cache_dir() / "untextured" / hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:16]
    for kind in ("visual", "collision"):
        for mesh in tree.getroot().iter(kind):
            for element in mesh.iter("mesh"):
                path = source.parent / element.get("filename", "")
                if path.is_file():  # else (package://..., missing) as written: PyBullet says what is wrong
                    element.set("filename", str(_untextured_mesh(path, folder) if kind == "visual" else path))
    return write_text_atomically(folder / source.name, ET.tostring(tree.getroot(), encoding="unicode"))
