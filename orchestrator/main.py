"""ASGI entry: `cd orchestrator && python -m uvicorn main:app --host 0.0.0.0 --port 8000`.

Also `orchestrator-api` (installed entry point: `orchestrator.main:run`).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # imported as top-level `main` from orchestrator/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestrator.api import create_app  # noqa: E402
from orchestrator.settings import Settings  # noqa: E402
from taskservice.logs import configure as configure_logging  # noqa: E402

_settings = Settings()
configure_logging(_settings.log_format, _settings.log_level)
app = create_app(_settings)


def run() -> None:
    """`orchestrator-api [--host H] [--port P]`: serve the API with uvicorn."""
    import argparse
    import os

    import uvicorn

    from taskservice.version import version_text

    parser = argparse.ArgumentParser(prog="orchestrator-api")
    parser.add_argument("--version", action="version", version=version_text("orchestrator-api"))
    parser.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args()
    uvicorn.run("orchestrator.main:app", host=args.host, port=args.port, log_level="warning", log_config=None)


if __name__ == "__main__":
    run()
