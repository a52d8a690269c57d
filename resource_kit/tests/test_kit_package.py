"""The kit is a package of its own: nothing of Rotor's server, and pinned dependencies."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
ROTOR_MODULES = {"app", "config", "wsgi", "tests"}


def test_the_kit_imports_nothing_of_rotors_server():
    imported = set()
    for source in (KIT / "src" / "rotor_resource_kit").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    assert "flask_jwt_extended" in imported and "redis" in imported
    assert not imported & ROTOR_MODULES


def test_every_dependency_is_pinned():
    project = tomllib.loads((KIT / "pyproject.toml").read_text())["project"]
    assert project["dependencies"]
    assert all("==" in requirement for requirement in project["dependencies"])
