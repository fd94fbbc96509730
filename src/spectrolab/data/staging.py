"""Dataset folders written whole or not at all: built in a temporary folder beside the target and moved into
place when complete (``render``, ``merge`` and ``roundtrip`` all write through :func:`staged_folder`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from spectrolab.errors import OutputExistsError


def check_new_folder(out_dir: Path, *, force: bool) -> None:
    """Refuse an existing ``out_dir`` unless ``force``."""
    if out_dir.exists() and not force:
        raise OutputExistsError(f"{out_dir}: exists already; pass --force (force=True) to overwrite")


def _open_permissions(tree: Path) -> None:
    """Give the temporary tree (made private by mkdtemp/mkstemp) the permissions the umask gives new files."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [tree, *tree.rglob("*")]:
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _move_into_place(tmp: Path, out_dir: Path, *, force: bool) -> None:
    if out_dir.exists():
        check_new_folder(out_dir, force=force)
        trash = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old-"))
        os.replace(out_dir, trash / out_dir.name)
        os.replace(tmp, out_dir)
        shutil.rmtree(trash)
    else:
        os.replace(tmp, out_dir)


@contextmanager
def staged_folder(out_dir: str | os.PathLike[str], *, force: bool = False) -> Iterator[Path]:
    """A temporary folder beside ``out_dir`` to build in; moved into place (replacing ``out_dir`` only with
    ``force``) when the block ends, removed if it raises: nothing half-written is left behind."""
    target = Path(out_dir)
    check_new_folder(target, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        yield tmp
        _open_permissions(tmp)
        _move_into_place(tmp, target, force=force)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
