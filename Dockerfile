# Rotor under gunicorn: slim, non-root.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    GUNICORN_BIND=0.0.0.0:5000

WORKDIR /srv/rotor
COPY pyproject.toml README.md config.py wsgi.py gunicorn.conf.py ./
COPY app ./app
RUN pip install . && useradd --system --uid 10001 rotor

USER rotor
EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/healthz', timeout=2)"
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
