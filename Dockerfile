# One image for every role: api, worker, migrate and sandbox differ only by command.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ORDERSYNC_LOG_JSON=true

WORKDIR /srv
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
# Editable, so that `ordersync migrate` finds migrations/ beside the package. No extras: the
# embedded Postgres is for running without a database server, and the image always has one.
RUN pip install -e . && useradd --create-home --uid 10001 ordersync

# Local state lives here, not in the working directory (root's): the webhook's spool of pushes
# taken while Postgres is down. They were acknowledged to the marketplace already, so the spool
# must outlive the container: mount a volume (docker-compose.yml does).
ENV ORDERSYNC_DATA_DIR=/var/lib/ordersync
RUN install -d -o ordersync -g ordersync -m 0750 /var/lib/ordersync
VOLUME /var/lib/ordersync
USER ordersync

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["ordersync", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-migrate"]
