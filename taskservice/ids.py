"""Task ids: one documented character set and length, checked at the door.

An id travels into URL paths, `Location` headers, log lines and folder names,
so it is limited to `[A-Za-z0-9._:-]{1,200}` and may not be only dots (`.`
and `..` are path steps). Anything else is a 422 naming the field.
Ids that go into a URL are still percent-encoded (`quote_id`).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

TASK_ID_MAX = 200
TASK_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,200}$"
TASK_ID_RULE = "1-200 characters of A-Z a-z 0-9 . _ : -, not only dots"
_TASK_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")


def valid_task_id(value: object) -> bool:
    """Whether `value` is an acceptable task (or workflow) id."""
    return isinstance(value, str) and _TASK_ID.fullmatch(value) is not None and value.strip(".") != ""


def id_error(value: object, loc: tuple[str | int, ...]) -> dict[str, object]:
    """A validation error entry (FastAPI's shape) for a bad id at `loc`."""
    return {"type": "string_pattern_mismatch", "loc": loc, "msg": f"{loc[-1]} must be {TASK_ID_RULE}",
            "input": value if isinstance(value, str) and len(value) <= TASK_ID_MAX else None}


def quote_id(task_id: str) -> str:
    """An id as one URL path segment."""
    return quote(task_id, safe="")


def folder_name(task_id: str) -> str:
    """A file-system name for `task_id` that is one folder, never `.`/`..`, and distinct per id.

    Characters outside `[A-Za-z0-9._-]` are percent-encoded (so `%` is too),
    and a name of dots only has its dots encoded: the mapping is one to one.
    """
    name = quote(task_id, safe="")
    if name.strip(".") == "":
        name = name.replace(".", "%2E") or "%00"
    return name


def task_file(data_dir: Path, task_id: str, name: str) -> Path:
    """`data_dir/<task folder>/<name>`, made safe: neither the id nor `name` can lead outside the folder."""
    root = Path(data_dir).resolve()
    folder = root / folder_name(task_id)
    leaf = folder_name(Path(name).name or "output")
    path = folder / leaf
    if path.parent != folder or folder.parent != root:
        raise ValueError(f"output name {name!r} does not stay in the task's folder")
    folder.mkdir(parents=True, exist_ok=True)
    if folder.resolve() != folder:
        raise ValueError(f"the folder of task {task_id!r} is a symlink; refusing to write through it")
    return path
