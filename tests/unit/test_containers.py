"""The container files, read as docker reads them (no engine needed): the Dockerfile's build
context holds everything `pip install .` and its CMD need, the image runs gunicorn as a non-root
user with a health check on a route the app serves, and docker-compose.yml starts Rotor with
settings that config.py reads and accepts, on the persistent, password-protected Redis it
declares. Where a docker client with compose exists, `docker compose config` checks the rest."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import runpy
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from config import Settings
from tests.servers import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
# What `secrets.token_urlsafe(48)` / `(24)` print, as the compose file's header says to run.
COMPOSE_SECRETS = {"JWT_SECRET_KEY": "k" * 64, "REDIS_PASSWORD": "p" * 32}


# -- reading the files ------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continued lines joined."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
        for line in lines
        if line and not line.startswith("#")
    ]


def _all(instruction: str) -> list[str]:
    return [args for name, args in _dockerfile() if name == instruction]


def _last(instruction: str) -> str:
    found = _all(instruction)
    assert found, f"the Dockerfile has no {instruction}"
    return found[-1]


def _env() -> dict[str, str]:
    """The image's ENV, in the KEY=value form."""
    return dict(item.split("=", 1) for args in _all("ENV") for item in shlex.split(args))


def _bind_port() -> int:
    return int(_env()["GUNICORN_BIND"].rsplit(":", 1)[1])


def _dockerignore() -> list[str]:
    path = REPO / ".dockerignore"
    lines = path.read_text().splitlines() if path.exists() else []
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored(path: str) -> bool:
    """True if a .dockerignore pattern leaves ``path`` (or a folder above it) out."""
    parts = Path(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(prefix, pattern.rstrip("/")) for pattern in _dockerignore()
        for prefix in prefixes
    )  # fmt: skip


def _copied() -> list[str]:
    """Every source path of the Dockerfile's COPY instructions (relative to the context)."""
    sources = []
    for args in _all("COPY"):
        words = [word for word in shlex.split(args) if not word.startswith("--")]
        sources += [word.removeprefix("./") for word in words[:-1]]
    return sources


def _compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def _interpolate(value: str) -> str:
    """Compose's ``${NAME:?error}`` and ``${NAME:-default}``, with the secrets a user is told
    to generate; ``$$`` is a literal ``$``."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, word = match.group(1), match.group(2), match.group(3)
        if name in COMPOSE_SECRETS:
            return COMPOSE_SECRETS[name]
        assert operator != ":?", f"{name} is required and has no value in this test"
        return word if operator == ":-" else ""

    text = re.sub(r"\$\{(\w+)(?:(:[?-])([^}]*))?\}", substitute, value)
    return text.replace("$$", "$")


def _api_environment() -> dict[str, str]:
    environment = _compose()["services"]["api"]["environment"]
    return {name: _interpolate(str(value)) for name, value in environment.items()}


class _ReadNames(dict):
    """An environment that remembers the names read from it."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, name: str, default: Any = None) -> Any:
        self.read.add(name)
        return super().get(name, default)

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return super().__getitem__(name)

    def __contains__(self, name: object) -> bool:
        self.read.add(str(name))
        return super().__contains__(name)


def _names_rotor_reads(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> set[str]:
    """The names of ``environment`` that config.py's settings and gunicorn.conf.py read, with
    ``environment`` as the process environment."""
    environ = _ReadNames({**environment, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
    monkeypatch.setattr(os, "environ", environ)
    Settings.from_env()
    runpy.run_path(str(REPO / "gunicorn.conf.py"))
    return environ.read


def _url_path(command: str) -> tuple[int, str]:
    """(port, path) of the one http://127.0.0.1 URL in a health check command."""
    match = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/-]*)", command)
    assert match, command
    return int(match.group(1)), match.group(2)


# -- the image --------------------------------------------------------------------------------


def test_the_base_image_runs_the_python_that_pyproject_requires():
    image = _dockerfile()[0]
    assert image[0] == "FROM"
    version = re.fullmatch(r"python:(\d+\.\d+)(?:\.\d+)?-slim", image[1])
    assert version, image[1]
    assert version.group(1) in SpecifierSet(PYPROJECT["project"]["requires-python"])


def test_the_build_context_holds_what_pip_install_and_the_command_need():
    copied = _copied()
    for source in copied:
        assert (REPO / source).exists(), f"COPY {source}: no such file in the build context"
        assert not _ignored(source), f"COPY {source}: .dockerignore leaves it out"
    project, setuptools = PYPROJECT["project"], PYPROJECT["tool"]["setuptools"]
    needed = {"pyproject.toml", project["readme"], "gunicorn.conf.py"}
    needed |= {f"{module}.py" for module in setuptools["py-modules"]}
    needed |= {pattern.rstrip("*") for pattern in setuptools["packages"]["find"]["include"]}
    assert needed <= set(copied), needed - set(copied)
    assert any(re.search(r"\bpip install \.(\s|$)", run) for run in _all("RUN"))
    assert any(dependency.startswith("gunicorn==") for dependency in project["dependencies"])


def test_the_image_runs_gunicorn_with_the_repositorys_config_as_a_non_root_user():
    command = json.loads(_last("CMD"))  # the exec form: gunicorn is PID 1 and gets SIGTERM
    assert command == ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
    user = _last("USER")
    assert user not in {"root", "0"}
    instructions = _dockerfile()
    created = [i for i, (name, args) in enumerate(instructions)
               if name == "RUN" and re.search(rf"\buseradd\b.*\b{user}$", args)]  # fmt: skip
    assert created, f"no RUN creates the user {user}"
    assert created[0] < instructions.index(("USER", user))


def test_the_health_check_asks_a_route_that_answers_on_the_bound_port(client):
    port, path = _url_path(_last("HEALTHCHECK"))
    assert port == _bind_port()
    assert _last("EXPOSE") == str(port)
    assert client.get(path).status_code == 200


# -- compose ----------------------------------------------------------------------------------


def test_compose_runs_redis_persistent_noevicting_and_password_protected():
    redis_service = _compose()["services"]["redis"]
    command = [_interpolate(str(word)) for word in redis_service["command"]]
    assert command[0] == "redis-server"
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert options["--appendonly"] == "yes"
    assert options["--maxmemory-policy"] == "noeviction"
    assert options["--requirepass"] == COMPOSE_SECRETS["REDIS_PASSWORD"]
    volume = redis_service["volumes"][0].split(":")
    assert volume[1] == "/data" and volume[0] in _compose()["volumes"]
    health = " ".join(redis_service["healthcheck"]["test"])
    assert "ping" in health and "$REDIS_PASSWORD" in _interpolate(health)


def test_compose_gives_the_api_settings_rotor_reads_and_accepts(monkeypatch, tmp_path):
    environment = _api_environment()
    unknown = set(environment) - _names_rotor_reads(environment, monkeypatch, tmp_path)
    assert not unknown, f"compose sets variables nothing reads: {sorted(unknown)}"
    settings = Settings.from_env(environment)  # raises ConfigError when production refuses it
    assert settings.env == "production"
    url = urlsplit(settings.redis_url or "")
    assert url.hostname in _compose()["services"], "REDIS_URL must name a compose service"
    assert url.hostname == "redis" and url.port == 6379
    assert url.password == COMPOSE_SECRETS["REDIS_PASSWORD"]


def test_compose_builds_this_image_and_publishes_its_port_on_localhost_only(client):
    api = _compose()["services"]["api"]
    assert api["build"] == "." and (REPO / "Dockerfile").exists()
    assert api["depends_on"]["redis"]["condition"] == "service_healthy"
    [published] = api["ports"]
    host, host_port, container_port = published.split(":")
    assert host == "127.0.0.1" and int(container_port) == _bind_port()
    assert host_port.isdigit()
    port, path = _url_path(" ".join(api["healthcheck"]["test"]))
    assert port == _bind_port()
    assert client.get(path).status_code == 200


def _compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_available(), reason="no docker client with compose here")
def test_docker_compose_config_is_valid():
    env = {**os.environ, **COMPOSE_SECRETS}
    result = subprocess.run(
        ["docker", "compose", "config", "--quiet"], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
