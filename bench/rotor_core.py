"""Rotor's core, for measurement only (never deploy it): Rotor without its audit line and
tracing (request ids, ``X-Request-ID``, the request counter and latency histogram) and, with
``REFRESH_REUSE_GRACE=0`` from ``make bench``, without the grace window. What is left is
flask-jwt-extended's verification and issuing, the one atomic script (the session, user and
denylist check; rotation with reuse detection) and the views.

The "(core)" rows of ``make bench`` serve it next to Rotor as deployed: how far trimming those
parts could take Rotor's ratio to the recipe, and how far the core is from the library floor.
"""

from __future__ import annotations

from bench.without import leave_out
from wsgi import app

app = leave_out(app, ("tracing", "audit"))
