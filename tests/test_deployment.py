"""Dockerfile and docker-compose.yml agree with the settings module (no Docker engine runs here, so
the files are parsed and held to what settings.py reads), and every place that runs the web server
(the image, compose's web, scripts/serve) runs granian's WSGI interface on the project's application."""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import granian
import pytest
import yaml
from granian.cli import cli as granian_cli

from tests.support.servers import serve_command

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "webhooks", "beat")
REQUIRED = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"}
# Secrets and host names the operator must supply: `${NAME:?message}`, never a default in the file.
FROM_OPERATOR = {"SECRET_KEY", "SIGNING_KEY_ENCRYPTION_KEY", "ALLOWED_HOSTS", "SERVICE_URL"}
SETTINGS = "passkey_service.settings"
PYTHON_RUNTIME = {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_DISABLE_PIP_VERSION_CHECK"}
WSGI_TARGET = "passkey_service.wsgi:application"


def settings_variables() -> set[str]:
    """Names passkey_service/settings.py reads: env("X"), env.str("X"), env.db_url("X"), …"""
    source = (ROOT / "passkey_service/settings.py").read_text()
    return set(re.findall(r"\benv(?:\.\w+)?\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']", source))


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the "NAME=value" form
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {name: str(value) for name, value in env.items()}


def command(service: dict) -> str:
    value = service.get("command", "")
    return " ".join(value) if isinstance(value, list) else value


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_settings_parser_finds_the_variables():
    assert REQUIRED | {"DEBUG", "METRICS_ENABLED", "RATE_LIMIT_LOGIN_PER_IP"} <= settings_variables()


# --- the web server: granian, WSGI ----------------------------------------------------------


def granian_params(words: list[str]) -> dict:
    """What a granian command line sets, parsed (so every option is checked) by the installed granian's own CLI."""
    assert Path(words[0]).name == "granian", words
    return granian_cli.make_context("granian", words[1:]).params


def assert_serves_the_wsgi_application(params: dict, host: str) -> None:
    assert params["interface"] == "wsgi" and params["app"] == WSGI_TARGET
    assert params["host"] == host
    assert params["log_access_enabled"], "the access log is the only record of each request's status"
    assert not params["websockets"], "a WSGI app takes no websockets"
    # Processes for the cores, blocking threads so one slow request (or the demo's call back in) holds no worker.
    assert params["workers"] >= 2 and params["blocking_threads"] >= 2


def production_server(words: list[str]) -> dict:
    """The image's and compose's server: every interface of the container, 4 workers, a dead worker replaced."""
    params = granian_params(words)
    assert_serves_the_wsgi_application(params, "0.0.0.0")  # noqa: S104 - the container's port, published on loopback
    assert params["workers"] == 4 and params["respawn_failed_workers"]
    return params


def test_granian_target_is_the_wsgi_application(settings):
    module, _, name = WSGI_TARGET.partition(":")
    assert callable(getattr(importlib.import_module(module), name))
    assert settings.WSGI_APPLICATION == f"{module}.{name}"


def test_granian_is_the_pinned_runtime_server():
    """The image installs requirements.txt only: granian, as pinned (the version these tests parse with)."""
    runtime = (ROOT / "requirements.txt").read_text().lower().splitlines()
    assert f"granian=={granian.__version__}" in runtime
    assert not any(line.startswith("gunicorn") for line in runtime), "gunicorn is the benchmark's, not the image's"


def test_serve_runs_granian_on_loopback():
    """The embedded default: two workers with blocking threads, since a demo page's request calls back into the
    same server; only on loopback, installed from requirements.txt into .venv."""
    words = serve_command(8000)
    assert words[0] == str(ROOT / ".venv/bin/granian")
    params = granian_params(words)
    assert_serves_the_wsgi_application(params, "127.0.0.1")
    assert params["port"] == 8000
    assert "-r requirements.txt" in (ROOT / "scripts/serve").read_text()


# --- docker-compose.yml ----------------------------------------------------------------------


def test_compose_has_web_workers_beat_postgres_and_redis(compose):
    assert set(compose["services"]) == {"web", "worker", "webhooks", "beat", "postgres", "redis"}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_compose_sets_only_variables_settings_reads(compose, name):
    unknown = set(environment(compose["services"][name])) - settings_variables()
    assert not unknown, f"{name} sets {unknown}, which settings.py never reads"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_compose_sets_every_variable_settings_reads(compose, name):
    """The compose file is the reference of the production configuration: nothing left implicit."""
    missing = settings_variables() - set(environment(compose["services"][name]))
    assert not missing, f"{name} leaves {missing} to their development defaults"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_compose_sets_the_required_variables(compose, name):
    env = environment(compose["services"][name])
    for variable in REQUIRED:
        assert env.get(variable), (name, variable)
    assert env["DEBUG"].lower() == "false"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_secrets_and_hosts_come_from_the_operator(compose, name):
    env = environment(compose["services"][name])
    for variable in FROM_OPERATOR:
        assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]*\}}", env[variable]), (name, variable, env[variable])
    assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]


def test_app_services_share_one_configuration(compose):
    web, *others = (environment(compose["services"][name]) for name in APP_SERVICES)
    assert all(other == web for other in others)


def web_steps(compose: dict) -> list[list[str]]:
    """The words of each `&&`-joined step of web's `sh -c` command."""
    words = shlex.split(command(compose["services"]["web"]))
    assert words[:2] == ["sh", "-c"] and len(words) == 3, words
    steps, step = [], []
    for word in shlex.split(words[2]):
        if word == "&&":
            steps, step = [*steps, step], []
        else:
            step.append(word)
    return [*steps, step]


def test_web_migrates_then_runs_granian(compose):
    migrate, serve = web_steps(compose)
    assert migrate == ["python", "manage.py", "migrate", "--noinput"]
    assert serve[0] == "exec", "granian must replace the shell, to get the stop signal"
    params = production_server(serve[1:])
    published = {port.rsplit(":", 1)[1] for port in compose["services"]["web"]["ports"]}
    assert published == {str(params["port"])}


def test_web_runs_the_image_command(compose):
    """compose's web and the image's CMD start the same server the same way."""
    assert granian_params(web_steps(compose)[-1][1:]) == granian_params(dockerfile_cmd())


@pytest.mark.parametrize("name", ["worker", "webhooks", "beat"])
def test_workers_and_beat_run_celery_with_the_project_app(compose, name):
    words = shlex.split(command(compose["services"][name]))
    assert words[:4] == ["celery", "-A", "passkey_service", "beat" if name == "beat" else "worker"]


def test_webhook_deliveries_have_their_own_worker_and_queue(compose, settings):
    """A slow tenant endpoint holds only the webhooks worker; metrics and nudges run on the default queue."""
    queues = {name: shlex.split(command(compose["services"][name])) for name in ("worker", "webhooks")}
    assert queues["worker"][queues["worker"].index("-Q") + 1] == "celery"
    assert queues["webhooks"][queues["webhooks"].index("-Q") + 1] == "webhooks"
    assert settings.CELERY_TASK_ROUTES["webhooks.tasks.deliver"] == {"queue": "webhooks"}


def test_beat_keeps_its_schedule_where_the_non_root_user_may_write(compose):
    words = shlex.split(command(compose["services"]["beat"]))
    assert words[words.index("--schedule") + 1].startswith("/tmp/")  # noqa: S108 - the container's own /tmp


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_healthy_postgres_and_redis(compose, name):
    depends = compose["services"][name]["depends_on"]
    assert depends == {"postgres": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"}}
    assert compose["services"]["postgres"]["healthcheck"] and compose["services"]["redis"]["healthcheck"]


def test_compose_urls_name_the_compose_services(compose):
    env = environment(compose["services"]["web"])
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379/")


def test_metrics_folder_is_shared_by_web_and_worker_at_the_configured_path(compose):
    folder = environment(compose["services"]["web"])["PROMETHEUS_MULTIPROC_DIR"]
    for name in ("web", "worker"):
        assert f"prometheus:{folder}" in compose["services"][name]["volumes"], name
    assert folder == dict(dockerfile_env())["PROMETHEUS_MULTIPROC_DIR"]


def test_web_port_is_published_on_loopback_only(compose):
    """TLS ends at a proxy in front; the plain-HTTP port must not face the network."""
    assert all(port.startswith("127.0.0.1:") for port in compose["services"]["web"]["ports"])


# --- Dockerfile ------------------------------------------------------------------------------


def dockerfile_env() -> list[tuple[str, str]]:
    pairs = []
    for instruction, arguments in dockerfile():
        if instruction == "ENV":
            pairs += [tuple(item.split("=", 1)) for item in shlex.split(arguments)]
    return pairs


def test_dockerfile_builds_on_a_slim_python_image():
    images = [arguments for instruction, arguments in dockerfile() if instruction == "FROM"]
    assert images and all(re.fullmatch(r"python:3\.\d+-slim(-\w+)?", image) for image in images), images


def test_dockerfile_runs_as_a_non_root_user():
    users = [arguments for instruction, arguments in dockerfile() if instruction == "USER"]
    assert users, "no USER instruction: the container would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")


def dockerfile_cmd() -> list[str]:
    commands = [arguments for instruction, arguments in dockerfile() if instruction == "CMD"]
    assert commands, "no CMD"
    return json.loads(commands[-1])  # the exec form: granian gets the stop signal, no shell in between


def test_dockerfile_runs_granian():
    params = production_server(dockerfile_cmd())
    exposed = [arguments for instruction, arguments in dockerfile() if instruction == "EXPOSE"]
    assert exposed == [str(params["port"])]


def test_dockerfile_sets_only_variables_settings_reads():
    unknown = {name for name, _ in dockerfile_env()} - settings_variables() - PYTHON_RUNTIME
    assert not unknown


def test_dockerfile_makes_the_metrics_folder_writable_for_its_user():
    folder = dict(dockerfile_env())["PROMETHEUS_MULTIPROC_DIR"]
    user = [arguments for instruction, arguments in dockerfile() if instruction == "USER"][-1]
    runs = " ".join(arguments for instruction, arguments in dockerfile() if instruction == "RUN")
    assert f"mkdir -p {folder}" in runs and f"chown {user}:{user} {folder}" in runs


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", ".git", "*.sqlite3"} <= ignored


def test_compose_keeps_the_demo_site_off(compose):
    assert environment(compose["services"]["web"])["DEMO_ENABLED"] == "${DEMO_ENABLED:-false}"


def _settings_probe(expression: str, **variables: str) -> subprocess.CompletedProcess:
    """Evaluate `expression` against the settings a fresh process builds from exactly these variables."""
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": SETTINGS, **variables}
    probe = f"import django; django.setup(); from django.conf import settings; print({expression})"
    return subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True
    )


@pytest.mark.parametrize("debug, enabled", [("false", "False"), ("true", "True")])
def test_demo_site_follows_debug_unless_set(debug, enabled):
    """Production settings (DEBUG off) leave /demo/ out; the development default serves it."""
    assert _settings_probe("settings.DEMO_ENABLED", DEBUG=debug, SECRET_KEY="x").stdout.strip() == enabled


def test_production_is_the_default_without_debug():
    assert _settings_probe("settings.DEBUG", SECRET_KEY="a-real-secret").stdout.strip() == "False"


@pytest.mark.parametrize(
    "secret", [None, "", " \t", "dev-insecure-secret-key-change-me"], ids=["unset", "empty", "blank", "public"]
)
def test_start_fails_without_a_secret_key_outside_development(secret):
    variables = {} if secret is None else {"SECRET_KEY": secret}
    probe = _settings_probe("settings.DEBUG", **variables)
    assert probe.returncode != 0
    assert "SECRET_KEY must be set" in probe.stderr


def test_development_opts_in_with_the_public_key():
    assert _settings_probe("settings.SECRET_KEY", DEBUG="true").stdout.strip() == "dev-insecure-secret-key-change-me"


@pytest.mark.parametrize(
    "variables, expected",
    [
        ({"SECRET_KEY": "s"}, "(True, True, 0)"),
        ({"SECRET_KEY": "s", "BEHIND_TLS_PROXY": "true"}, "(True, True, 31536000)"),
        ({"DEBUG": "true", "BEHIND_TLS_PROXY": "true"}, "(False, False, 0)"),
    ],
    ids=["production", "production-behind-tls", "development"],
)
def test_production_cookies_are_secure_and_hsts_is_sent_behind_tls(variables, expected):
    expression = "(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SECURE_HSTS_SECONDS)"
    assert _settings_probe(expression, **variables).stdout.strip() == expected


def test_dockerignore_keeps_env_files_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", "*.env"} <= ignored


def test_image_installs_only_runtime_requirements():
    installs = [args for instruction, args in dockerfile() if instruction == "RUN" and "pip install" in args]
    assert installs and all("-r requirements.txt" in args and "test" not in args for args in installs)
    runtime = (ROOT / "requirements.txt").read_text().lower()
    for tool in ("pytest", "selenium", "ruff", "schemathesis"):
        assert tool not in runtime, tool
    assert "-r requirements.txt" in (ROOT / "requirements-test.txt").read_text()
