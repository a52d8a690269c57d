"""Rotor's resource-server kit: verify Rotor's access tokens locally with flask-jwt-extended
and refuse a token whose session has ended within milliseconds, with no Redis call per
request (see the repository README, "Resource servers")."""

from rotor_resource_kit.extension import KeySetUnavailable, RotorResourceServer
from rotor_resource_kit.layout import RotorKeys
from rotor_resource_kit.watch import SessionWatch, StoreUnavailable

__all__ = [
    "KeySetUnavailable",
    "RotorKeys",
    "RotorResourceServer",
    "SessionWatch",
    "StoreUnavailable",
]
