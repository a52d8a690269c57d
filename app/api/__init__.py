"""The api room: blueprints that translate HTTP to calls into app.auth and back."""

from __future__ import annotations

from flask import Flask
from flask_jwt_extended import JWTManager

from app.api import auth, docs, errors, jwks, openapi, ops, principal
from app.api.http import refuse_oversized_request
from app.auth import AuthService


def init_app(app: Flask, jwt: JWTManager, service: AuthService) -> None:
    """Register the error envelope, the blueprints, the per-request checks and
    flask-jwt-extended's loaders: the key ring's keys, the revocation check, the refusals."""
    errors.init_app(app)
    errors.register(jwt)
    jwt.encode_key_loader(service.tokens.signing_key)
    jwt.additional_headers_loader(service.tokens.signing_header)
    jwt.decode_key_loader(service.tokens.verification_key)
    principal.init_app(jwt)
    app.before_request(refuse_oversized_request)
    app.register_blueprint(auth.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(jwks.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(docs.bp)
