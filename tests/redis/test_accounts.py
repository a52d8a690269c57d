"""Registration and login: validation, email normalization, no enumeration, long passwords."""

from __future__ import annotations

import base64
import hashlib
import hmac

import bcrypt
import pytest

from app.store.keys import KeySpace
from tests.conftest import PASSWORD


def test_register_returns_the_account(client):
    response = client.post(
        "/api/auth/register", json={"email": "new@example.com", "password": PASSWORD}
    )
    assert response.status_code == 201
    assert set(response.json) == {"id", "email", "created_at"}
    assert response.json["email"] == "new@example.com"


def test_emails_are_one_account_however_cased_or_padded(auth, client):
    auth.register(" Bob@X.io ")
    response = client.post("/api/auth/register", json={"email": "bob@x.io", "password": PASSWORD})
    assert response.status_code == 409
    assert response.json["error"]["code"] == "email_taken"
    assert auth.login("BOB@x.IO  ")["access_token"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "password": "x" * 1025}, "password"),
        ({"email": "a@example.com"}, "password"),
        ({"password": PASSWORD}, "email"),
        ({"email": ["a@example.com"], "password": PASSWORD}, "email"),
        ({"email": "a@example.com", "password": 12345678}, "password"),
        ({"email": "a@example.com", "password": PASSWORD, "admin": True}, "admin"),
        ({"email": "\ud800@example.com", "password": PASSWORD}, "email"),
        ({"email": "x" * 250 + "@example.com", "password": PASSWORD}, "email"),
    ],
)
def test_register_rejects_invalid_input_per_field(client, redis_client, body, field):
    response = client.post("/api/auth/register", json=body)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"
    assert field in response.json["error"]["details"]
    assert redis_client.dbsize() == 0


@pytest.mark.parametrize(
    "password",
    [
        "a" * 8,
        "é" * 64,  # 128 UTF-8 bytes
        "a" * 73,
        "€" * 40,  # 120 bytes
        "x" * 1024,
        "pass\x00word\ud800",  # NUL and a lone surrogate: hashed, not crashed
    ],
)
def test_any_password_of_8_to_1024_characters_works(auth, password):
    user = auth.register(password=password)
    assert auth.login(user["email"], password)["access_token"]


def test_passwords_are_not_truncated_at_72_bytes(auth, client):
    user = auth.register(password="a" * 72 + "X")
    response = client.post(
        "/api/auth/login", json={"email": user["email"], "password": "a" * 72 + "Y"}
    )
    assert response.status_code == 401


def test_unknown_email_and_wrong_password_get_identical_answers(auth, client):
    user = auth.register()
    wrong_password = client.post(
        "/api/auth/login", json={"email": user["email"], "password": "not the password"}
    )
    unknown_email = client.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": "not the password"}
    )
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.get_data() == unknown_email.get_data()

    def same_for_everyone(response):
        return {k: v for k, v in response.headers.items() if k != "X-Request-ID"}

    assert same_for_everyone(wrong_password) == same_for_everyone(unknown_email)
    assert wrong_password.json["error"]["code"] == "invalid_credentials"


def test_unknown_email_still_pays_for_one_bcrypt_check(app, monkeypatch, client):
    import bcrypt

    calls = []
    real_checkpw = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda *a: calls.append(1) or real_checkpw(*a))
    client.post("/api/auth/login", json={"email": "nobody@example.com", "password": "whatever1"})
    assert calls == [1]


def test_passwords_are_stored_as_bcrypt_hashes(auth, redis_client, keys):
    user = auth.register()
    stored = redis_client.hget(keys.user(user["id"]), "pw")
    assert stored.startswith("$2b$04$")  # the tests' cost; production refuses below 10
    assert PASSWORD not in stored


def test_each_login_mints_a_fresh_session(auth):
    user = auth.register()
    first, second = auth.login(user["email"]), auth.login(user["email"])
    assert first["session_id"] != second["session_id"]
    assert first["refresh_token"] != second["refresh_token"]


@pytest.mark.parametrize(
    "common", ["Password1!", "PASSWORD", "qwertyuiop", "Dragon2024!", "iloveyou"]
)
def test_common_passwords_are_refused(client, redis_client, common):
    response = client.post("/api/auth/register", json={"email": "c@x.io", "password": common})
    assert response.status_code == 422
    assert "too common" in response.json["error"]["details"]["password"][0]
    assert redis_client.dbsize() == 0


def test_the_shipped_list_has_the_top_passwords_and_a_passphrase_passes():
    from importlib import resources

    from app.auth.passwords import is_common_password

    lines = resources.files("app.auth").joinpath("data", "common-passwords.txt").read_text()
    words = [w for w in lines.splitlines() if w and not w.startswith("# ")]
    assert len(words) >= 10_000
    assert all(is_common_password(w) for w in words[:3000])
    assert all(is_common_password(w.upper()) for w in words[:3000])
    assert not is_common_password("a long lowercase passphrase nobody uses")


def test_password_change_refuses_a_common_new_password(auth):
    pair = auth.register_and_login()
    response = auth.post(
        "/api/auth/password", pair["access_token"],
        json={"current_password": PASSWORD, "new_password": "Password123"},
    )  # fmt: skip
    assert response.status_code == 422
    assert "new_password" in response.json["error"]["details"]


PEPPER = "a pepper of at least thirty-two bytes, kept out of Redis"


def _peppered(password: str, pepper: str = PEPPER) -> bytes:
    """What bcrypt must have hashed under PASSWORD_PEPPER: base64(HMAC-SHA-256(pepper, pw))."""
    digest = hmac.new(pepper.encode(), password.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest)


def _stored(redis_client, keys: KeySpace, user_id: str) -> dict:
    return redis_client.hgetall(keys.user(user_id))


def test_with_a_pepper_passwords_are_hashed_under_hmac_sha256(auth_with, redis_client, keys):
    auth = auth_with(password_pepper=PEPPER)
    user = auth.register()
    stored = _stored(redis_client, keys, user["id"])
    assert stored["pw_prehash"] == "hmac-sha256"
    assert bcrypt.checkpw(_peppered(PASSWORD), stored["pw"].encode())
    assert not bcrypt.checkpw(_peppered(PASSWORD, PEPPER + "!"), stored["pw"].encode())
    assert auth.login(user["email"])["access_token"]
    wrong = auth.client.post(
        "/api/auth/login", json={"email": user["email"], "password": PASSWORD + "!"}
    )
    assert wrong.status_code == 401


def test_hashes_made_without_the_pepper_work_and_are_upgraded_at_the_next_login(
    auth_with, redis_client, keys
):
    before = auth_with()
    user = before.register()
    old = _stored(redis_client, keys, user["id"])
    assert old["pw_prehash"] == "sha256"
    after = auth_with(password_pepper=PEPPER)

    failed = after.client.post(
        "/api/auth/login", json={"email": user["email"], "password": "not the password"}
    )
    assert failed.status_code == 401
    # Only a correct login upgrades.
    assert _stored(redis_client, keys, user["id"])["pw"] == old["pw"]
    assert after.login(user["email"])["access_token"]
    upgraded = _stored(redis_client, keys, user["id"])
    assert upgraded["pw_prehash"] == "hmac-sha256"
    assert bcrypt.checkpw(_peppered(PASSWORD), upgraded["pw"].encode())
    assert upgraded.get("pw_epoch", "0") == old.get("pw_epoch", "0")  # not a password change
    assert after.login(user["email"])["access_token"]


def test_records_from_before_the_scheme_was_stored_check_as_plain_sha256(auth, redis_client, keys):
    user = auth.register()
    redis_client.hdel(keys.user(user["id"]), "pw_prehash")  # as main stored them
    assert auth.login(user["email"])["access_token"]


def test_a_peppered_hash_fails_closed_without_its_pepper(auth_with):
    user = auth_with(password_pepper=PEPPER).register()
    without = auth_with().client
    response = without.post("/api/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_credentials"
