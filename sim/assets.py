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

import hashlib
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from conf.files import cache_dir, write_atomically


def _write(path: Path, text: str) -> None:
    if not (path.exists() and path.read_text() == text):
        write_atomically(path, lambda tmp: Path(tmp).write_text(text))


def _untextured_mesh(mesh: Path, folder: Path) -> Path:
    """`mesh` copied into `folder` with its material file's picture lines dropped (a mesh that names no
    material file is used where it is)."""
    text = mesh.read_text(errors="replace")
    found = re.search(r"^mtllib\s+(.+?)\s*$", text, re.MULTILINE)
    if mesh.suffix.lower() != ".obj" or not found or not (mesh.parent / found.group(1)).is_file():
        return mesh
    material = (mesh.parent / found.group(1)).read_text(errors="replace")
    _write(
        folder / found.group(1),
        re.sub(r"^\s*(map_|bump|disp|decal|refl).*\n?", "", material, flags=re.MULTILINE),
    )
    _write(folder / mesh.name, text)
    return folder / mesh.name


def untextured_urdf(source: Path) -> Path:
    """A copy of the URDF at `source` whose visual meshes have no texture; the collision meshes are the
    original's, by absolute path."""
    tree = ET.parse(source)
    folder = cache_dir() / "untextured" / hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:16]
    for kind in ("visual", "collision"):
        for mesh in tree.getroot().iter(kind):
            for element in mesh.iter("mesh"):
                path = source.parent / element.get("filename", "")
                if path.is_file():  # else (package://..., missing) as written: PyBullet says what is wrong
                    element.set("filename", str(_untextured_mesh(path, folder) if kind == "visual" else path))
    out = folder / source.name
    _write(out, ET.tostring(tree.getroot(), encoding="unicode"))
    return out
