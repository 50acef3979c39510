"""The installed version, shown by every command's `--version`."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

_DISTRIBUTIONS = ("longops", "taskservice")


def project_version() -> str:
    """The version of the installed distribution (the repository's, else the template core's)."""
    for dist in _DISTRIBUTIONS:
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return "0+unknown"


def version_text(prog: str) -> str:
    return f"{prog} {project_version()}"
