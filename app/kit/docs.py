"""``/docs`` and ``/redoc`` that work on an isolated network.

FastAPI's own pages load Swagger UI, ReDoc, their CSS, a favicon and Google Fonts from CDNs,
so without internet they are blank. Here the same pages (FastAPI's ``get_swagger_ui_html`` and
``get_redoc_html``) point at assets served by the app itself, from the ``fastapi-offline``
package (Swagger UI and ReDoc's standalone bundles, MIT/Apache-2.0, installed with ordersync).
Nothing on the pages names another host: Swagger UI's online validator is switched off, and
ReDoc uses the browser's fonts. The bundles themselves still name one (ReDoc's menu shows
Redocly's logo from their CDN): a Content-Security-Policy keeps the pages to their own origin,
so a browser never asks another host for anything, online or not.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, swagger_ui_default_parameters
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PACKAGE = ("fastapi_offline", "static")
# Swagger UI otherwise asks validator.swagger.io about every spec not served from localhost.
SWAGGER_UI_PARAMETERS = {**swagger_ui_default_parameters, "validatorUrl": None}
# Inline: Swagger UI's start-up script and both UIs' styles; eval: ReDoc's schema validator;
# blob: ReDoc's search worker; data: the icons in Swagger UI's CSS.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'self'"
)


def _own_origin_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page


def install_offline_docs(
    app: FastAPI,
    *,
    docs_url: str = "/docs",
    redoc_url: str | None = "/redoc",
    assets_url: str | None = None,
) -> None:
    """Serve Swagger UI at ``docs_url`` (and ReDoc at ``redoc_url``) with their assets under
    ``assets_url`` (default: ``docs_url`` + ``/assets``). The app must be created with
    ``docs_url=None, redoc_url=None``, so that FastAPI's CDN pages are not installed too."""
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError("create the app with docs_url=None, redoc_url=None")
    if app.openapi_url is None:
        raise ValueError("the app serves no OpenAPI document")
    openapi_url = app.openapi_url
    assets = assets_url or f"{docs_url.rstrip('/')}/assets"
    app.mount(assets, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-assets")

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{assets}/swagger-ui.css",
            swagger_favicon_url=f"{root}{assets}/favicon.png",
            swagger_ui_parameters={**SWAGGER_UI_PARAMETERS, **(app.swagger_ui_parameters or {})},
        )
        return _own_origin_only(page)

    if redoc_url is None:
        return

    @app.get(redoc_url, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{assets}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{assets}/favicon.png",
            with_google_fonts=False,
        )
        return _own_origin_only(page)
