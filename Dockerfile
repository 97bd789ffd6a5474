# solvent's service image: `solvent serve` with the PostgreSQL journal driver and the numba
# tick screen. Build from the repository root:  docker build -t solvent .
# deploy/compose.yaml runs it next to PostgreSQL, a NATS cluster with two replicas of the engine
# (`solvent cluster run`, the same image), Prometheus and Grafana.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install '.[service,postgres,fast,cluster]' && rm -rf /build

RUN useradd --system --create-home --home-dir /var/lib/solvent solvent
USER solvent
WORKDIR /var/lib/solvent
EXPOSE 8000
ENTRYPOINT ["solvent"]
CMD ["serve", "--config", "/etc/solvent/solvent.toml"]
