"""Factory for the Newegg sandbox: a real HTTP server that behaves like the Newegg Marketplace
API's order calls for the three sites (``/marketplace``, ``/marketplace/b2b``,
``/marketplace/can``), plus a control surface (``/_sandbox``). Point ``NEWEGG_API_BASE`` at it
in place of ``https://api.newegg.com``."""

from __future__ import annotations

from fastapi import FastAPI

from app.kit.docs import install_offline_docs
from app.sandbox.newegg.admin import build_admin_router
from app.sandbox.newegg.api import build_site_router
from app.sandbox.newegg.models import SITE_PREFIX
from app.sandbox.newegg.state import NeweggState
from app.sandbox.wire import RawReceiveMiddleware


def create_newegg_sandbox() -> FastAPI:
    """A fresh sandbox; all state lives in this app instance, so instances never interfere."""
    state = NeweggState()
    app = FastAPI(
        title="Newegg sandbox",
        docs_url=None,
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
    )
    install_offline_docs(app, docs_url="/_sandbox/docs", redoc_url=None)
    app.add_middleware(RawReceiveMiddleware)
    for site in SITE_PREFIX:
        app.include_router(build_site_router(state, site))
    app.include_router(build_admin_router(state))
    # For in-process callers (the CLI, tests) that want to inspect or tweak state directly.
    app.state.newegg_sandbox = state
    return app
