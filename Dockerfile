# wirewatch daemon image: slim Python, non-root, `wirewatch run`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    WIREWATCH_CONFIG=/etc/wirewatch/wirewatch.yaml

WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY ingest ./ingest
COPY alerts ./alerts
COPY wirewatch ./wirewatch
RUN pip install --no-cache-dir '.[postgres]' \
 && useradd --system --uid 10001 --home-dir /var/lib/wirewatch --create-home wirewatch

USER wirewatch
WORKDIR /var/lib/wirewatch
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s CMD ["wirewatch", "health"]
ENTRYPOINT ["wirewatch"]
CMD ["run"]
