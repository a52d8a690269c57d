"""Container files: compose validates where a docker client with compose exists; the image
runs gunicorn as a non-root user with a health check."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.servers import REPO


def _compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_available(), reason="no docker client with compose here")
def test_docker_compose_config_is_valid():
    env = {**os.environ, "JWT_SECRET_KEY": "x" * 48, "REDIS_PASSWORD": "y" * 24}
    result = subprocess.run(
        ["docker", "compose", "config", "--quiet"], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_compose_runs_redis_persistent_noevicting_with_a_password_and_health_checks():
    compose = (REPO / "docker-compose.yml").read_text()
    for expected in ("--appendonly", "noeviction", "--requirepass", "build: ."):
        assert expected in compose
    assert compose.count("healthcheck:") == 2


def test_image_runs_gunicorn_as_non_root_with_a_health_check():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "\nUSER rotor\n" in dockerfile
    assert "HEALTHCHECK" in dockerfile
    assert 'CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]' in dockerfile
