"""The release files in ``deploy/`` and the ``Dockerfile`` fit together and fit solvent:

* every Grafana query names metrics a running service exports, with labels it exports;
* the compose file mounts files that exist, runs serve with a config file serve accepts, and
  Prometheus scrapes the port that config serves on;
* its three NATS servers form one JetStream cluster, started with the flags the failover test
  runs its own three with (``test_cluster_failover``), and its replicas name all three;
* the image is built and ``solvent --version`` run in it where a Docker engine answers (this
  machine has only the client: then the build is skipped, saying so).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "solvent.json"
METRIC = re.compile(r"\bsolvent_[a-z0-9_]+\b")
SERVICES = {"solvent", "postgres", "nats-1", "nats-2", "nats-3", "replicas", "cluster-api", "prometheus", "grafana"}
NATS_NODES = ("nats-1", "nats-2", "nats-3")


def _exported() -> dict[str, set[str]]:
    """Metric name → label names, as ``/metrics`` of a service that has seen a liquidation,
    an ADL and a guard trip shows them (histograms with their ``_bucket``/``_sum``/``_count``)."""
    pytest.importorskip("litestar", reason="the service extra is not installed")
    from prometheus_client.parser import text_string_to_metric_families
    from test_service_venues import served

    with served("binance-usdm") as api:
        post = api.post
        post("/v1/accounts/alice/deposits", {"amount": "3500"})
        post("/v1/accounts/bob/deposits", {"amount": "3100"})
        post("/v1/accounts/desk/deposits", {"amount": "10000000"})
        post("/v1/prices", {"symbol": "BTCUSDT", "price": "60000"})
        for trade, buyer in (("t1", "alice"), ("t2", "bob")):
            post("/v1/fills", {"trade_id": trade, "symbol": "BTCUSDT", "price": "60000", "qty": "1",
                               "buyer_id": buyer, "seller_id": "desk"})
        post("/v1/prices", {"symbol": "BTCUSDT", "price": "57000"})  # bob: 100 of equity < MM 228, closed
        post("/v1/prices", {"symbol": "BTCUSDT", "price": "56000"})  # alice: 3,500 − 4,000 < 0, ADL
        post("/v1/prices", {"symbol": "BTCUSDT", "price": "40000"})  # beyond the jump guard: held
        text = api.client.get("/metrics").text
        declared = api.svc.venue.metrics.label_names
    names: dict[str, set[str]] = {name: set(labels) for name, labels in declared.items()}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(k for k in sample.labels if k != "le")
    for line in text.splitlines():  # families with no sample yet (a counter never incremented)
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            suffixes = ("_bucket", "_sum", "_count") if kind == "histogram" else ("",)
            for suffix in suffixes:
                names.setdefault(name + suffix, set())
    return names


def _targets() -> list[dict[str, Any]]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t for panel in dashboard["panels"] for t in panel["targets"]]


def test_every_grafana_query_names_an_exported_metric_and_its_labels() -> None:
    exported = _exported()
    targets = _targets()
    assert len(targets) >= 12
    for target in targets:
        expr = target["expr"]
        used = METRIC.findall(expr)
        assert used, expr
        for name in used:
            assert name in exported, f"{name} (in {expr!r}) is not exported by /metrics"
        labels = set(re.findall(r"\{\{(\w+)\}\}", target.get("legendFormat", "")))
        grouped = re.findall(r"by \(([^)]*)\)", expr)
        available = set().union(*(exported[name] for name in used))
        for group in grouped:
            assert {g.strip() for g in group.split(",")} - {"le"} <= available, expr
        assert labels <= available, f"legend {target['legendFormat']!r} uses labels {expr!r} lacks"


def test_the_risk_metrics_the_issue_lists_are_on_the_dashboard() -> None:
    queried = {name for target in _targets() for name in METRIC.findall(target["expr"])}
    for wanted in ("solvent_insurance_fund", "solvent_open_interest", "solvent_accounts",
                   "solvent_liquidated_notional_total", "solvent_adl_events_total", "solvent_mark_price",
                   "solvent_index_price", "solvent_oracle_guard_trips_total", "solvent_journal_lag_seconds_bucket",
                   "solvent_journal_commit_duration_seconds_bucket"):
        assert wanted in queried, wanted


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def _mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path → host path of ``service``'s bind mounts (relative to deploy/)."""
    out = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            out[target] = (DEPLOY / source).resolve()
    return out


def test_the_compose_file_runs_the_stack_on_files_that_exist() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        for target, source in _mounts(service).items():
            assert source.exists(), f"{name}: {source} (mounted at {target}) is missing"
    solvent = services["solvent"]
    assert (ROOT / solvent["build"]["context"].replace("..", ".") / solvent["build"]["dockerfile"]).exists()
    assert set(compose["volumes"]) >= {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])
                                       if not v.startswith(".")}
    grafana = _mounts(services["grafana"])
    provisioning = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/solvent.yaml").read_text())
    dashboards_at = provisioning["providers"][0]["options"]["path"]
    assert grafana[dashboards_at] == DASHBOARD.parent.resolve()
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    uid = datasource["datasources"][0]["uid"]
    assert {t["datasource"]["uid"] for t in _targets()} == {uid}
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"


def test_the_service_in_compose_uses_a_config_serve_accepts_and_prometheus_scrapes_its_port(
        tmp_path: Path) -> None:
    pytest.importorskip("litestar", reason="the service extra is not installed")
    from solvent.cli.serve_command import serve_cmd
    from solvent.cli.serve_config import load_config

    solvent = _compose()["services"]["solvent"]
    command = solvent["command"]
    config_at = command[command.index("--config") + 1]
    settings = load_config(str(_mounts(solvent)[config_at]), serve_cmd)
    assert settings["host"] == "0.0.0.0"  # reachable from the other containers
    assert settings["journal"].startswith("postgresql://") and "@postgres:" in settings["journal"]
    assert f"{settings['port']}:{settings['port']}" in solvent["ports"]
    prometheus = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    job = prometheus["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == [f"solvent:{settings['port']}"]
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f'"--config", "{config_at}"' in dockerfile  # the image's default command reads the same file


def _flags(command: list[str]) -> dict[str, str | None]:
    """``--flag value`` pairs of a command line (a flag followed by another flag has no value)."""
    out: dict[str, str | None] = {}
    for k, word in enumerate(command):
        if word.startswith("--"):
            nxt = command[k + 1] if k + 1 < len(command) else None
            out[word] = None if nxt is None or nxt.startswith("--") else nxt
    return out


def test_the_nats_servers_in_compose_form_one_jetstream_cluster_the_replicas_name() -> None:
    from test_cluster_failover import NODE_FLAGS

    services = _compose()["services"]
    nodes = {name: _flags(services[name]["command"]) for name in NATS_NODES}
    for name, flags in nodes.items():
        assert set(NODE_FLAGS) <= set(flags), name  # what the failover test runs its cluster with
        assert flags["--server_name"] == name and flags["--cluster_name"] == "solvent"
        port = str(flags["--cluster"]).rsplit(":", 1)[1]
        others = {f"nats://{other}:{port}" for other in NATS_NODES if other != name}
        assert set(str(flags["--routes"]).split(",")) == others, name
        assert f"{name}-data:{flags['--store_dir']}" in services[name]["volumes"]
    replicas = services["replicas"]
    assert replicas["image"] == services["solvent"]["image"]
    command = replicas["command"]
    assert command[:2] == ["cluster", "run"]
    assert set(str(_flags(command)["--nats"]).split(",")) == {f"nats://{n}:4222" for n in NATS_NODES}
    assert set(replicas["depends_on"]) >= set(NATS_NODES)
    pytest.importorskip("nats", reason="the cluster extra is not installed")
    from solvent.cli.cluster_commands import cluster_cmd

    # the command parses as ``cluster run`` reads it (nothing is started)
    params = cluster_cmd.commands["run"].make_context("run", command[2:]).params
    assert params["replicas"] == 2 and params["nats_url"] == _flags(command)["--nats"]
    header = _compose_header()
    assert "cluster init --venue demo --stream-replicas 3" in header and _flags(command)["--venue"] == "demo"


def test_the_api_on_the_log_in_compose_is_a_serve_cluster_command_on_the_same_nats_and_venue() -> None:
    services = _compose()["services"]
    api, replicas = services["cluster-api"], services["replicas"]
    assert api["image"] == services["solvent"]["image"]
    command = api["command"]
    flags = _flags(command)
    assert command[0] == "serve"
    assert flags["--cluster"] == _flags(replicas["command"])["--nats"]  # the log the replicas follow
    assert flags["--cluster-venue"] == _flags(replicas["command"])["--venue"] == "demo"
    assert flags["--host"] == "0.0.0.0" and f"{flags['--port']}:{flags['--port']}" in api["ports"]
    assert set(api["depends_on"]) >= set(NATS_NODES)
    from solvent.cli.serve_command import serve_cmd

    params = serve_cmd.make_context("serve", command[1:]).params  # parses as serve reads it (nothing is started)
    assert params["cluster_url"] == flags["--cluster"] and params["journal"].startswith("/var/lib/solvent/")


def _compose_header() -> str:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    return " ".join(line.lstrip("# ").rstrip("\\ ") for line in text.splitlines() if line.startswith("#"))


def test_the_dockerfile_copies_files_that_exist_and_installs_the_service() -> None:
    lines = (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
    copies = [line.split()[1:-1] for line in lines if line.startswith("COPY ")]
    assert copies
    for sources in copies:
        for source in sources:
            assert (ROOT / source).exists(), source
    assert any("pip install '.[service,postgres" in line and "cluster" in line for line in lines)  # replicas too
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".git" in ignored and "*.sqlite" in ignored


def _docker_engine() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


def test_the_image_builds_and_answers_version() -> None:
    if not _docker_engine():
        pytest.skip("no Docker engine answers here (`docker info` fails): the image build is not run")
    tag = "solvent-test:ci"
    subprocess.run(["docker", "build", "-t", tag, str(ROOT)], check=True, timeout=1800)
    out = subprocess.run(["docker", "run", "--rm", tag, "--version"], check=True, capture_output=True, text=True)
    assert out.stdout.startswith("solvent, version ")


def test_the_documented_operator_key_recipe_makes_a_key_the_service_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/deploy.md and compose.yaml make the operator key with the recipe the service names
    when a key is malformed; a key of that shape is accepted (``openssl rand -hex N`` prints N
    random bytes as hex, as ``secrets.token_hex`` does)."""
    pytest.importorskip("litestar", reason="the service extra is not installed")
    import secrets

    from solvent.errors import InvalidInput
    from solvent.service.builder import OPERATOR_KEY_RECIPE, load_keys

    for text in ((ROOT / "docs" / "deploy.md").read_text("utf-8"), (DEPLOY / "compose.yaml").read_text("utf-8")):
        assert f"SOLVENT_OPERATOR_KEY={OPERATOR_KEY_RECIPE}" in text
    assert OPERATOR_KEY_RECIPE == "slv_$(openssl rand -hex 6)_$(openssl rand -hex 24)"
    monkeypatch.setenv("SOLVENT_OPERATOR_KEY", f"slv_{secrets.token_hex(6)}_{secrets.token_hex(24)}")
    assert len(load_keys(None)) == 1
    monkeypatch.setenv("SOLVENT_OPERATOR_KEY", secrets.token_hex(24))  # the old recipe's shape
    with pytest.raises(InvalidInput, match=r"SOLVENT_OPERATOR_KEY: .*\(make one with slv_"):
        load_keys(None)
