FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DEBUG=false
WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput -v0

RUN useradd --system --uid 10001 app
USER app
EXPOSE 8000
CMD ["gunicorn", "passkey_service.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-"]
