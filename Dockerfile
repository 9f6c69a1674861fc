FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TIPBOT_DATA_DIR=/data \
    TIPBOT_LISTEN=0.0.0.0

RUN useradd --create-home --uid 10001 tipbot && install -d -m 0700 -o tipbot /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY storage ./storage
COPY locales ./locales
RUN pip install --no-cache-dir -e .

USER tipbot
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["tipbot"]
CMD ["run"]
