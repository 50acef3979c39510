"""The no-op RQ job of `bench/orchestrator.py`'s `depends_on` baseline (imported by the RQ worker)."""


def noop() -> None:
    return None
