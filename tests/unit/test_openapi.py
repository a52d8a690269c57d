"""GET /api/openapi.json and GET /api/docs: generated from the schemas, in sync with the URL map."""

from __future__ import annotations

import re
from typing import Any

import pytest
import schemathesis
from flask.testing import FlaskClient

from app.api import openapi
from app.api.openapi import documented_rules, operation_of
from app.api.schemas import PASSWORD_MAX, PASSWORD_MIN

# API.md's table: every endpoint with its success status and the errors it names.
CONTRACT = [
    ("post", "/api/auth/register", "201", {"409", "422", "429"}),
    ("post", "/api/auth/login", "200", {"401", "422", "429"}),
    ("post", "/api/auth/refresh", "200", {"401", "429"}),
    ("post", "/api/auth/logout", "204", {"401"}),
    ("post", "/api/auth/logout-all", "204", {"401"}),
    ("get", "/api/auth/sessions", "200", {"401"}),
    ("delete", "/api/auth/sessions/{session_id}", "204", {"401", "404"}),
    ("get", "/api/auth/me", "200", {"401"}),
    ("post", "/api/auth/password", "204", {"401", "403", "422", "429"}),
    ("get", "/healthz", "200", set()),
    ("get", "/readyz", "200", {"503"}),
    ("get", "/api/openapi.json", "200", set()),
    ("get", "/.well-known/jwks.json", "200", set()),
]
JSON_BODY_ERRORS = {"400", "413", "415", "422"}


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return dict(response.json)


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    }


def test_document_lists_every_rule_of_the_url_map_and_nothing_else(app, document):
    routes = {(method, path) for _endpoint, path, method in documented_rules(app)}
    assert set(_operations(document)) == routes


def test_every_view_carries_its_own_description(app):
    endpoints = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in openapi.UNDOCUMENTED_ENDPOINTS
        and rule.endpoint.partition(".")[0] not in openapi.UNDOCUMENTED_BLUEPRINTS
    }
    described = {e for e, view in app.view_functions.items() if operation_of(view)}
    assert described == endpoints


@pytest.mark.parametrize(("method", "path", "success", "errors"), CONTRACT)
def test_each_endpoint_of_the_contract_is_documented(document, method, path, success, errors):
    responses = _operations(document)[(method, path)]["responses"]
    assert min(responses) == success
    assert errors <= set(responses)
    assert {"414", "431"} <= set(responses)  # every request passes the size checks


def test_document_is_openapi_3_1_that_schemathesis_loads(document):
    assert document["openapi"] == "3.1.0"
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]  # raises when invalid
    assert len(operations) == len(_operations(document))


def test_every_error_answer_is_the_envelope(document):
    for (method, path), operation in _operations(document).items():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)
    envelope = document["components"]["schemas"]["Error"]
    assert envelope["required"] == ["error"]
    body = document["components"]["schemas"]["ErrorBody"]
    assert set(body["properties"]) == {"code", "message", "details"}
    assert set(body["required"]) == {"code", "message"}


def test_headers_of_401_429_and_503_are_documented(document):
    required = {"401": "WWW-Authenticate", "429": "Retry-After", "503": "Retry-After"}
    for operation in _operations(document).values():
        for status, header in required.items():
            if status in operation["responses"]:
                assert operation["responses"][status]["headers"][header]["required"] is True


def test_token_pairs_come_in_the_body_or_in_cookies_and_are_not_cached(document):
    for path in ("/api/auth/login", "/api/auth/refresh"):
        ok = document["paths"][path]["post"]["responses"]["200"]
        assert ok["headers"]["Cache-Control"]["schema"]["enum"] == ["no-store"]
        assert ok["content"]["application/json"]["schema"] == {
            "oneOf": [
                {"$ref": "#/components/schemas/TokenPair"},
                {"$ref": "#/components/schemas/CookieSession"},
            ]
        }
    cookie_body = document["components"]["schemas"]["CookieSession"]["properties"]
    assert not {"access_token", "refresh_token", "token"} & set(cookie_body)


@pytest.mark.parametrize(
    ("cookie_secure", "access_cookie"),
    [(True, "__Host-access_token_cookie"), (False, "access_token_cookie")],
)
def test_cookie_mode_is_documented_with_this_apps_cookie_names(
    auth_with, cookie_secure, access_cookie
):
    client = auth_with(cookie_secure=cookie_secure).client
    document = client.get("/api/openapi.json").json
    schemes = document["components"]["securitySchemes"]
    assert schemes["accessCookie"] == {**schemes["accessCookie"], "in": "cookie",
                                       "name": access_cookie}  # fmt: skip
    assert schemes["csrfHeader"]["name"] == "X-CSRF-TOKEN"
    logout = document["paths"]["/api/auth/logout"]["post"]
    assert {"accessCookie": [], "csrfHeader": []} in logout["security"]
    assert "csrf_failed" in logout["responses"]["403"]["description"]
    me = document["paths"]["/api/auth/me"]["get"]
    assert {"accessCookie": []} in me["security"]  # a read needs no CSRF header
    assert "403" not in me["responses"]


@pytest.mark.parametrize(
    ("path", "schema", "errors"),
    [
        ("/api/auth/register", "Register", JSON_BODY_ERRORS),
        ("/api/auth/login", "Login", JSON_BODY_ERRORS),
        ("/api/auth/refresh", "Refresh", JSON_BODY_ERRORS),
        ("/api/auth/password", "PasswordChange", JSON_BODY_ERRORS),
    ],
)
def test_json_bodies_come_from_the_marshmallow_schemas(document, path, schema, errors):
    operation = document["paths"][path]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{schema}"}
    assert errors <= set(operation["responses"])
    assert document["components"]["schemas"][schema]["additionalProperties"] is False


def test_refresh_token_may_come_in_the_body_the_header_or_the_cookie(document):
    operation = document["paths"]["/api/auth/refresh"]["post"]
    assert operation["requestBody"]["required"] is False
    assert operation["security"] == [
        {"refreshToken": []},
        {"refreshCookie": [], "csrfHeader": []},
        {},
    ]


def test_schema_constraints_are_the_validation_rules(document):
    register = document["components"]["schemas"]["Register"]["properties"]
    assert register["password"]["minLength"] == PASSWORD_MIN
    assert register["password"]["maxLength"] == PASSWORD_MAX
    assert register["email"]["format"] == "email"
    assert document["components"]["schemas"]["Register"]["required"] == ["email", "password"]


def test_protected_endpoints_declare_the_bearer_scheme_and_refuse_anonymous_calls(client, document):
    scheme = document["components"]["securitySchemes"]["accessToken"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    for (method, path), operation in _operations(document).items():
        url = path.replace("{session_id}", "0123abcd")
        response = client.open(url, method=method.upper())
        refused = response.status_code == 401 and response.json["error"]["code"] == "missing_token"
        schemes = {name for requirement in operation.get("security", []) for name in requirement}
        requires_token = bool(schemes & {"accessToken", "refreshToken"})
        assert refused == requires_token, (method, path, response.status_code)


def test_document_is_built_once_per_app(client, monkeypatch):
    builds = []
    build = openapi.build_document
    monkeypatch.setattr(openapi, "build_document", lambda app: builds.append(app) or build(app))
    first = client.get("/api/openapi.json").json
    assert client.get("/api/openapi.json").json == first
    assert len(builds) == 1


def test_docs_page_is_self_contained_html(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "openapi.json" in page
    # No external assets: nothing is loaded from another origin.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert not re.search(r"""fetch\(\s*["'](https?:)?//""", page)
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy


def test_docs_page_loads_no_inline_script_or_style(client):
    page = client.get("/api/docs").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert "<style" not in page and "style=" not in page
    policy = client.get("/api/docs").headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [
        ("/api/docs/swagger-ui/swagger-ui-bundle.js", "text/javascript"),
        ("/api/docs/swagger-ui/swagger-ui.css", "text/css"),
        ("/api/docs/static/docs.js", "text/javascript"),
    ],
)
def test_docs_page_assets_are_served_from_this_origin(client, path, mimetype):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    response.close()


@pytest.mark.parametrize(
    "name", ["index.html", "oauth2-redirect.html", "../__init__.py", "swagger-ui.js.map"]
)
def test_docs_serves_no_other_file_of_the_bundle(client, name):
    response = client.get(f"/api/docs/swagger-ui/{name}")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
