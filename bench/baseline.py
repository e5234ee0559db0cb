"""The bare endpoint the intake benchmark compares us with: FastAPI, read the body, answer 200.

Served by ``uvicorn bench.baseline:app`` in its own process, with the same uvicorn settings as
``ordersync serve`` (one process, default loop and HTTP implementation, no access log).
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

app = FastAPI(title="bare baseline", docs_url=None, redoc_url=None, openapi_url=None)


@app.post("/webhooks/lazada")
async def receive(request: Request) -> Response:
    await request.body()
    return Response(status_code=200)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
