"""A bare FastAPI ping endpoint, served exactly the way `taskservice.run` serves a service.

Same uvicorn settings as `taskservice/runner.py` (one process, uvloop and
httptools via uvicorn[standard], access log off, same log level), read from
the same `PORT`/`HOST`/`SERVICE_*` variables. It is the baseline the
benchmark divides by.

    PORT=8124 HOST=127.0.0.1 python ping_app.py
"""

from __future__ import annotations

import logging

import uvicorn
from fastapi import FastAPI

from taskservice.settings import ServiceSettings

app = FastAPI(title="ping")


@app.get("/ping")
async def ping():
    return {"status": "ok"}


def main() -> None:
    settings = ServiceSettings()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                            access_log=settings.access_log, timeout_graceful_shutdown=settings.shutdown_grace + 1)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
