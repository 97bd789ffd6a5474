"""``solvent serve --config FILE`` and ``--print-config``: a TOML [serve] table sets serve's options,
the command line wins over it, and a bad file is refused in one line before anything starts."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from test_cli import run_error

from solvent.cli import main

pytest.importorskip("litestar", reason="solvent serve needs the service extra")


def _printed(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, dict[str, object]]:
    code = main(["serve", *argv, "--print-config"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, tomllib.loads(out)["serve"]


def test_print_config_shows_defaults_file_values_and_command_line_with_their_source(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, defaults = _printed(capsys)
    # serve's documented defaults: 127.0.0.1:8000, 50 requests/s per key, schema solvent_journal
    assert defaults["host"] == "127.0.0.1" and defaults["port"] == 8000 and defaults["rate"] == 50.0
    assert defaults["schema"] == "solvent_journal" and "venue" not in defaults  # unset: commented out
    config = tmp_path / "solvent.toml"
    config.write_text('[serve]\nport = 9000\nvenue = "drift"\nrate = 5\nverify_full = true\n', encoding="utf-8")
    text, settings = _printed(capsys, "--config", str(config), "--port", "9100")
    assert settings["port"] == 9100 and "port = 9100  # command line" in text  # the command line wins
    assert settings["venue"] == "drift" and 'venue = "drift"  # config file' in text
    assert settings["rate"] == 5.0 and settings["verify_full"] is True
    assert 'host = "127.0.0.1"  # default' in text


def test_a_printed_config_read_back_gives_the_same_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, settings = _printed(capsys, "--venue", "hyperliquid", "--journal", str(tmp_path / "j é.sqlite"),
                               "--failed-auth-burst", "7")
    config = tmp_path / "printed.toml"
    config.write_text(first, encoding="utf-8")
    _, again = _printed(capsys, "--config", str(config))
    assert again == settings


def test_serve_uses_the_files_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from solvent.service.builder import open_durable
    from solvent.service.venue import venue_config

    monkeypatch.chdir(tmp_path)
    journal = tmp_path / "coin.sqlite"
    open_durable(journal, venue_config("binance-coinm")).close()
    config = tmp_path / "solvent.toml"
    config.write_text(f'[serve]\njournal = "{journal}"\nvenue = "hyperliquid"\nport = 1\n', encoding="utf-8")
    line = run_error(capsys, "serve", "--config", str(config))
    assert "hyperliquid in USDC, the journal binance-coinm in BTC" in line  # the file's venue and journal


@pytest.mark.parametrize(("content", "says"), [
    ('[serve]\nportt = 9000\n', "unknown setting 'portt'"),
    ('[serve]\nport = "x"\n', "port must be an integer, not a string"),
    ('[serve]\nport = "9000"\n', "port must be an integer, not a string"),  # refused, never coerced
    ('[serve]\nport = 9000.7\n', "port must be an integer, not a float"),
    ('[serve]\nhost = 5\n', "host must be a string, not an integer"),
    ('[serve]\nhost = 1979-05-27\n', "host must be a string, not a TOML date"),
    ('[serve]\nrate = nan\n', "rate: nan is not a finite number"),
    ('port = 9000\n', "'port' belongs in the [serve] table"),
    ('colour = 9000\n', "unknown setting outside the [serve] table 'colour'"),
    ('[serve]\nport = 70000\n', "port: 70000 is not in the range"),
    ('[serve]\nrate = true\n', "rate must be"),
    ('[serve]\ndemo = 1\n', "demo must be true or false"),
    ('[serve]\nvenue = ["drift"]\n', "venue must be a single value"),
    ('[serve]\ninit = true\n', "unknown setting 'init'"),  # a one-time act, never a standing setting
    ('[serve]\nnew_key = "operator"\n', "unknown setting 'new_key'"),
    ('[server]\nport = 1\n', "unknown table 'server'"),
    ('serve = 1\n', "'serve' must be a table"),
    ('[serve\nport = 1\n', "not TOML"),
])
def test_a_bad_config_file_is_refused_in_one_line(content: str, says: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "solvent.toml"
    config.write_text(content, encoding="utf-8")
    assert says in run_error(capsys, "serve", "--config", str(config))


def test_a_missing_or_binary_config_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "No such file" in run_error(capsys, "serve", "--config", str(tmp_path / "absent.toml"))
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"\xff\xfe[serve]")
    assert "not UTF-8" in run_error(capsys, "serve", "--config", str(binary))


@pytest.mark.parametrize("option", ["--rate", "--failed-auth-rate", "--demo-step"])
def test_a_rate_that_is_not_a_number_is_refused(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    """NaN passes every range comparison: a rate of NaN answered every request 429."""
    assert "not a finite number" in run_error(capsys, "serve", option, "nan", "--print-config")


def test_idempotency_keys_is_a_setting_and_its_documented_default_is_the_services(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from solvent.cli.serve_command import serve_cmd
    from solvent.service.venue import IDEMPOTENCY_KEYS

    [option] = [p for p in serve_cmd.params if p.name == "idempotency_keys"]
    assert f"[default: {IDEMPOTENCY_KEYS}]" in (option.help or "")
    config = tmp_path / "solvent.toml"
    config.write_text("[serve]\nidempotency_keys = 5000\n", encoding="utf-8")
    _, settings = _printed(capsys, "--config", str(config))
    assert settings["idempotency_keys"] == 5000
    assert "0 is not in the range 1<=x<=10000000" in run_error(capsys, "serve", "--idempotency-keys", "0")
