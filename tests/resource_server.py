"""A resource server of your own, as the README's "Protecting your own Flask API" shows: a Flask
API that accepts Rotor's access tokens with flask-jwt-extended alone. Nothing of Rotor's code is
imported; tests/processes/test_resource_server.py runs it as its own process.

    ROTOR_JWT_SECRET=<JWT_SECRET_KEY> python resource_server.py PORT           # HS256
    ROTOR_JWT_ALGORITHM=EdDSA ROTOR_PUBLIC_KEY=<kid>.pub.pem ROTOR_KID=<kid> \\
        python resource_server.py PORT                                        # a key pair
"""

import os
import sys
from pathlib import Path

from flask import Flask, jsonify
from flask_jwt_extended import JWTManager, get_jwt, get_jwt_identity, jwt_required
from flask_jwt_extended.exceptions import JWTDecodeError

app = Flask(__name__)
algorithm = os.environ.get("ROTOR_JWT_ALGORITHM", "HS256")
app.config.update(
    JWT_ALGORITHM=algorithm,
    JWT_DECODE_ALGORITHMS=[algorithm],  # pinned: a token naming another algorithm is refused
    JWT_DECODE_ISSUER=os.environ.get("ROTOR_ISSUER", "rotor"),
    JWT_DECODE_AUDIENCE=os.environ.get("ROTOR_AUDIENCE", "rotor"),
    JWT_TOKEN_LOCATION=["headers"],
)
jwt = JWTManager(app)

if algorithm == "HS256":
    app.config["JWT_SECRET_KEY"] = os.environ["ROTOR_JWT_SECRET"]
else:
    # Rotor names its signing key by kid (its /.well-known/jwks.json lists them all): verify
    # with the public keys you were given, and only with them.
    public_keys = {os.environ["ROTOR_KID"]: Path(os.environ["ROTOR_PUBLIC_KEY"]).read_text()}

    @jwt.decode_key_loader
    def public_key_for(header: dict, _claims: dict) -> str:
        key = public_keys.get(header.get("kid", ""))
        if key is None:
            raise JWTDecodeError("unknown kid")
        return key


@jwt.invalid_token_loader
def invalid_token(reason: str):
    # The library answers 422 by default; a refresh token sent here lands here too.
    return jsonify(error="invalid_token", reason=reason), 401


@app.get("/api/hello")
@jwt_required()  # access tokens only: Rotor's refresh tokens (type "refresh") are refused
def hello():
    return jsonify(user=get_jwt_identity(), session=get_jwt()["sid"])


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]))
