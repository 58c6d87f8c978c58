# The detector as an HTTP service: docker build -t deepfake . && docker run -p 8000:8000 -v $PWD/checkpoints:/models deepfake
# POST /predict asks for a bearer token: -e DEEPFAKE_TOKEN=... sets it; without, the first worker makes one in
# /home/deepfake/.deepfake/serve_token (docker exec <container> cat it); -e DEEPFAKE_NO_TOKEN=1 turns it off.
FROM python:3.11-slim

RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1000 deepfake
WORKDIR /app
COPY --chown=deepfake . /app
USER deepfake

# Serving only: pinned torch/torchvision, the package without its training extras
RUN make install-serve

# WEB_CONCURRENCY: gunicorn's worker count, and how many ways the app splits the cores among them; each worker takes
# DEEPFAKE_MAX_PENDING uploads at once (503 beyond) and answers within DEEPFAKE_TIMEOUT seconds
ENV DEEPFAKE_CHECKPOINT=/models/best.pth DEEPFAKE_MAX_MB=200 WEB_CONCURRENCY=2 DEEPFAKE_MAX_PENDING=4 DEEPFAKE_TIMEOUT=120
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
CMD [".venv/bin/gunicorn", "--timeout", "300", "-b", "0.0.0.0:8000", "deepfake.serve:create_app_from_env()"]
