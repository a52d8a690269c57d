"""The README and docs/ stand alone: every link they hold points inside the repository, at a
file that exists, and at a heading that exists when it names one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.servers import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
_EXTERNAL = ("http://", "https://", "mailto:")


def _links(doc: Path) -> list[str]:
    return _LINK.findall(_FENCED.sub("", doc.read_text()))


def _anchors(doc: Path) -> set[str]:
    """GitHub's ids of a Markdown file's headings."""
    headings = re.findall(r"^#+ (.+)$", _FENCED.sub("", doc.read_text()), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: str(doc.relative_to(REPO)))
def test_every_link_points_inside_the_repository(doc):
    links = [link for link in _links(doc) if not link.startswith(_EXTERNAL)]
    assert links or doc.name != "README.md"
    for link in links:
        path, _, anchor = link.partition("#")
        # A leading / is the repository's root, as GitHub reads it.
        base = REPO if path.startswith("/") else doc.parent
        target = (base / path.lstrip("/")).resolve() if path else doc
        assert target.is_relative_to(REPO), f"{doc.name} links outside the repository: {link}"
        assert target.exists(), f"{doc.name} links to a missing file: {link}"
        if anchor and target.suffix == ".md":
            assert anchor in _anchors(target), f"{doc.name} links to a missing heading: {link}"


def test_the_http_contract_lives_in_the_repository():
    readme = (REPO / "README.md").read_text()
    assert "(docs/api.md)" in readme
    for doc in DOCS:
        assert "shared/API.md" not in doc.read_text(), doc.name
