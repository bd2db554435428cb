"""The catalog package: `fastapi run src/catalog` serves its `app`."""

from .main import app

__all__ = ["app"]
