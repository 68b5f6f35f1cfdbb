# The service image: web (granian, WSGI), Celery worker and beat all run from it (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 DEBUG=false
WORKDIR /app

# A fixed uid/gid, so volumes (the metrics folder) can be mounted writable for it.
RUN groupadd --system --gid 10001 app && useradd --system --uid 10001 --gid app --no-create-home app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput -v0

# Several granian workers (and Celery workers sharing the folder) each write their Prometheus
# samples here and /metrics sums them; set after collectstatic so the image holds no samples.
# Only counters and histograms: a dead worker's samples stay in the sums, so no exit hook is needed.
RUN mkdir -p /run/prometheus && chown app:app /run/prometheus
ENV PROMETHEUS_MULTIPROC_DIR=/run/prometheus

USER app
EXPOSE 8000
# A worker that dies is replaced (--respawn-failed-workers); the access log goes to the container log.
CMD ["granian", "--interface", "wsgi", "--host", "0.0.0.0", "--port", "8000", "--workers", "4", "--blocking-threads", "4", \
     "--respawn-failed-workers", "--access-log", "--no-ws", "passkey_service.wsgi:application"]
