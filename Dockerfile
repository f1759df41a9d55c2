# The ioc services (api, collectors, alert engine, simulator) in one image; docker-compose.yml
# picks the command. TimescaleDB and Grafana come from their official images.
FROM python:3.11.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
      libharfbuzz-subset0 fonts-dejavu-core fonts-noto-core \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ioc ioc
COPY collectors collectors
COPY alerts alerts
COPY sim sim
COPY config config
RUN pip install --no-cache-dir . && useradd --system --home /app ioc && mkdir -p /state \
 && chown ioc /state
USER ioc
ENV IOC_CONFIG_DIR=/app/config IOC_STATE_DIR=/state
EXPOSE 8080
CMD ["ioc", "serve", "--host", "0.0.0.0", "--port", "8080"]
