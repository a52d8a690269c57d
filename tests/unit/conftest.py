"""Tests that need no server: the apps they build run on fakeredis (with Lua) only."""

from __future__ import annotations

import fakeredis
import pytest


@pytest.fixture
def redis_client() -> fakeredis.FakeRedis:
    """fakeredis alone here: these tests are about what the app does, not about Redis."""
    return fakeredis.FakeRedis(decode_responses=True)
