# The comments API image. Legacy-builder syntax only (no BuildKit features).
#
#   docker build -t comments-api .                 # the production image (target "runtime")
#   docker build --target test -t comments-api:test .   # the same image plus dev tools and tests

# Matches the Pipfile's python_version (3.11), on Debian 12.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm
# Only builds the widget (esbuild needs Node 18 or later); nothing of it ships.
ARG NODE_IMAGE=node:22.12.0-bookworm-slim

# --- widget: bundle the comment widget (widget/); Node stays behind in this stage ---
FROM ${NODE_IMAGE} AS widget
WORKDIR /widget
COPY widget/package.json widget/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY widget/src/ src/
RUN npm run build

# --- build: resolve Pipfile.lock into a virtualenv; pipenv stays behind in this stage ---
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIPENV_NOSPIN=1 \
    PATH=/venv/bin:$PATH
RUN pip install pipenv==2026.10.3 \
 && python -m venv /venv
WORKDIR /src
COPY Pipfile Pipfile.lock ./
# --system installs into the interpreter on PATH, i.e. /venv; --deploy fails on a stale lock.
RUN pipenv install --deploy --system

# --- runtime: the image that ships ---
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/venv/bin:$PATH \
    PORT=5000
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
COPY --from=build /venv /venv
WORKDIR /app
# The top-level files of the design card, and every package but devtools (tests/test_image_contents.py).
COPY app.py comment.py config.py db.py gunicorn.conf.py ./
COPY api/ api/
COPY core/ core/
COPY delivery/ delivery/
COPY media/ media/
COPY store/ store/
COPY transfer/ transfer/
COPY web/ web/
# The widget: its demo page and the bundle, never its source or Node; but for the link rule,
# which the server reads too (core/spam.py).
COPY widget/demo.html widget/
COPY widget/src/links.js widget/src/
COPY --from=widget /widget/dist/ widget/dist/
USER 10001:10001
EXPOSE 5000
# Liveness with what the image has (Python, no curl); PORT is read at check time.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '5000'), timeout=2)"]
# gunicorn.conf.py binds 0.0.0.0:$PORT from the environment.
CMD ["gunicorn", "--config", "gunicorn.conf.py", "app:app"]

# --- test: the runtime image plus dev dependencies and the suite (`docker compose run --rm test`) ---
FROM runtime AS test
USER 0:0
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIPENV_NOSPIN=1
COPY Pipfile Pipfile.lock ./
RUN pip install pipenv==2026.10.3 \
 && pipenv install --deploy --system --dev \
 && chown 10001:10001 /app
COPY pyproject.toml ./
COPY devtools/ devtools/
COPY tests/ tests/
USER 10001:10001
CMD ["python", "-m", "pytest"]
