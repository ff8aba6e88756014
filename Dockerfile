# wirewatch daemon image: slim Python, non-root, `wirewatch run`.
# Stage 1 builds the wheels, the native matcher (alerts/_scan.c) included, with a C compiler that the
# runtime image does not carry.
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY config ./config
COPY ingest ./ingest
COPY alerts ./alerts
COPY wirewatch ./wirewatch
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[postgres,fulltext]'

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    WIREWATCH_CONFIG=/etc/wirewatch/wirewatch.yaml

COPY --from=build /wheels /wheels
# the import check fails the build if the native matcher did not compile (the image would run 2x slower)
RUN pip install --no-cache-dir --no-index --find-links /wheels 'wirewatch[postgres,fulltext]' \
 && rm -rf /wheels \
 && python -c "import wirewatch.alerts._scan" \
 && useradd --system --uid 10001 --home-dir /var/lib/wirewatch --create-home wirewatch

USER wirewatch
WORKDIR /var/lib/wirewatch
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s CMD ["wirewatch", "health"]
ENTRYPOINT ["wirewatch"]
CMD ["run"]
