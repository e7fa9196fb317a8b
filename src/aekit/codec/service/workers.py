"""Several server processes on one port (``aekit serve --workers N``): each worker builds its own app.

uvicorn starts a worker from an import string, so the app's settings travel in an environment
variable (:data:`ENV`, JSON: the codec directories and :func:`~.app.create_app`'s keyword
arguments) that every worker reads in :func:`app_from_environment`. The parent has already
loaded and checked every model and bound the port; each worker loads the models again (its own
memory, its own core) and accepts on the shared socket.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from .app import create_app

__all__ = ["ENV", "config", "app_from_environment"]

ENV = "AEKIT_SERVE_SETTINGS"


def config(models: Sequence[str | os.PathLike], options: dict[str, Any], **uvicorn_options: Any) -> Any:
    """A ``uvicorn.Config`` for ``workers > 1`` whose workers serve ``models`` with ``create_app(**options)``
    (sets :data:`ENV` in this process's environment, which the workers inherit)."""
    import uvicorn

    os.environ[ENV] = json.dumps({"models": [str(Path(m).resolve()) for m in models], "options": options})
    return uvicorn.Config(
        f"{__name__}:app_from_environment", factory=True, access_log=True, **uvicorn_options
    )


def app_from_environment() -> FastAPI:
    """The app of one worker, from the settings in :data:`ENV`."""
    settings = json.loads(os.environ[ENV])
    return create_app(settings["models"], **settings["options"])
