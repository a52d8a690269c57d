"""The api room: blueprints that translate HTTP to calls into app.auth and back."""

from __future__ import annotations

from flask import Flask
from flask_jwt_extended import JWTManager

from app.api import auth, docs, jwks, openapi, ops, principal
from app.api.http import refuse_oversized_request


def init_app(app: Flask, jwt: JWTManager) -> None:
    """Register the blueprints, the per-request checks and the token loaders."""
    principal.init_app(jwt)
    app.before_request(refuse_oversized_request)
    app.register_blueprint(auth.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(jwks.bp)
