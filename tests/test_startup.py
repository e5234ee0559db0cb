"""What the service does with itself at start-up and shutdown."""

from __future__ import annotations

import gc

from app.config import Settings
from app.main import create_app


async def test_start_up_objects_are_kept_out_of_full_collections(
    settings: Settings, database_url: str
) -> None:
    """A full collection of everything start-up built stalls every request for ~100 ms."""
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0, "unfrozen at shutdown, so cycles can be collected again"
