"""Unit tests for auth/: token verification, key material, caching and scopes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from auth import (
    ADMIN,
    EXECUTE_ALL,
    READ_FUNCTIONS,
    READ_JOBS,
    WRITE_FUNCTIONS,
    AuthError,
    KeyConfigError,
    Principal,
    TokenVerifier,
    can_execute,
    can_manage,
    can_read_all_jobs,
    execute_scope_for,
    has_scope,
    mint_token,
)
from config.settings import Settings

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"


# --- helpers ---------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "alice", "iat": now, "exp": now + 600}
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not None}


def _hs256(claims: dict[str, Any], secret: str = SECRET, **headers: Any) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers=headers or None)


def _hmac_forge(claims: dict[str, Any], key: bytes, alg: str = "HS256") -> str:
    """Sign by hand: PyJWT refuses to use a PEM as an HMAC secret, an attacker does not."""
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    return f"{header}.{payload}.{_b64(hmac.new(key, signing_input, hashlib.sha256).digest())}"


def _hs_settings(**kw: Any) -> Settings:
    return Settings(jwt_secret=SECRET, **kw)


def _rsa_keypair() -> tuple[rsa.RSAPrivateKey, str, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, private_pem, public_pem


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[rsa.RSAPrivateKey, str, str]:
    return _rsa_keypair()


@pytest.fixture(scope="module")
def ec_keys() -> tuple[str, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


async def _reason(verifier: TokenVerifier, header: str | None) -> str:
    with pytest.raises(AuthError) as info:
        await verifier.verify(header)
    return str(info.value)


# --- valid tokens and scopes -------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("scope", "read:functions execute:python"),
        ("scopes", ["read:functions", "execute:python"]),
        ("scp", ["read:functions", "execute:python"]),
        ("scp", "read:functions  execute:python"),
    ],
)
async def test_valid_hs256_token_gives_principal_with_scopes(claim: str, value: Any) -> None:
    verifier = TokenVerifier(_hs_settings())
    claims = _claims(**{claim: value})
    principal = await verifier.verify(f"Bearer {_hs256(claims)}")
    assert principal == Principal(
        subject="alice",
        issuer=None,
        scopes=frozenset({"read:functions", "execute:python"}),
        expires_at=float(claims["exp"]),
    )


async def test_token_without_scope_claims_has_no_scopes() -> None:
    principal = await TokenVerifier(_hs_settings()).verify(f"Bearer {_hs256(_claims())}")
    assert principal.scopes == frozenset()


async def test_scope_claim_of_wrong_type_is_rejected() -> None:
    token = _hs256(_claims(scopes=["ok", 3]))
    assert await _reason(TokenVerifier(_hs_settings()), f"Bearer {token}") == (
        "invalid claim 'scopes'"
    )


async def test_bearer_scheme_is_case_insensitive() -> None:
    principal = await TokenVerifier(_hs_settings()).verify(f"bEaReR {_hs256(_claims())}")
    assert principal.subject == "alice"


async def test_secret_argument_overrides_settings_secret() -> None:
    generated = "generated-development-secret-0123456789abcdef"
    verifier = TokenVerifier(Settings(jwt_secret=SECRET), secret=generated)
    ok = await verifier.verify(f"Bearer {_hs256(_claims(), secret=generated)}")
    assert ok.subject == "alice"
    assert await _reason(verifier, f"Bearer {_hs256(_claims())}") == "invalid signature"


async def test_mint_token_round_trips_through_verifier() -> None:
    token = mint_token(
        secret=SECRET,
        subject="bob",
        scopes=[READ_JOBS, EXECUTE_ALL],
        issuer="https://issuer.example",
        audience="fngate",
    )
    settings = _hs_settings(jwt_issuer="https://issuer.example", jwt_audience="fngate")
    principal = await TokenVerifier(settings).verify(f"Bearer {token}")
    assert principal.subject == "bob"
    assert principal.issuer == "https://issuer.example"
    assert principal.scopes == {READ_JOBS, EXECUTE_ALL}
    assert principal.key == "https://issuer.example|bob"
    assert principal.expires_at == pytest.approx(time.time() + 3600, abs=5)


def test_mint_token_refuses_alg_none() -> None:
    with pytest.raises(ValueError):
        mint_token(secret=SECRET, subject="x", scopes="", algorithm="none")


# --- rejections ---------------------------------------------------------------


async def test_expired_token_is_rejected() -> None:
    token = mint_token(secret=SECRET, subject="alice", scopes="", ttl_s=-60)
    assert await _reason(TokenVerifier(_hs_settings()), f"Bearer {token}") == "token expired"


async def test_token_expired_within_leeway_is_accepted() -> None:
    token = mint_token(secret=SECRET, subject="alice", scopes="", ttl_s=-2)
    principal = await TokenVerifier(_hs_settings(), leeway_s=5).verify(f"Bearer {token}")
    assert principal.subject == "alice"


async def test_token_signed_with_another_secret_is_rejected() -> None:
    token = _hs256(_claims(), secret="another-secret-that-is-also-long-enough-xx")
    assert await _reason(TokenVerifier(_hs_settings()), f"Bearer {token}") == "invalid signature"


async def test_tampered_payload_is_rejected() -> None:
    header, _, sig = _hs256(_claims()).split(".")
    payload = _b64(json.dumps(_claims(sub="mallory", scope=ADMIN)).encode())
    verifier = TokenVerifier(_hs_settings())
    assert await _reason(verifier, f"Bearer {header}.{payload}.{sig}") == "invalid signature"


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none_token_is_rejected(alg: str) -> None:
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims(scope=ADMIN)).encode())
    verifier = TokenVerifier(_hs_settings())
    assert await _reason(verifier, f"Bearer {header}.{payload}.") == "algorithm not allowed"


async def test_hs256_token_signed_with_rsa_public_pem_is_rejected(
    rsa_keys: tuple[rsa.RSAPrivateKey, str, str],
) -> None:
    _, _, public_pem = rsa_keys
    forged = _hmac_forge(_claims(scope=ADMIN), public_pem.encode())
    # The forgery really is a valid HMAC under the PEM: a verifier that let the
    # token choose the algorithm would accept it.
    assert jwt.api_jws.PyJWS().decode(forged, options={"verify_signature": False})
    verifier = TokenVerifier(Settings(jwt_public_key=public_pem))
    assert await _reason(verifier, f"Bearer {forged}") == "algorithm not allowed"


async def test_hs256_forgery_with_pem_fails_even_when_hs256_is_also_pinned(
    rsa_keys: tuple[rsa.RSAPrivateKey, str, str],
) -> None:
    _, _, public_pem = rsa_keys
    settings = Settings(
        jwt_secret=SECRET, jwt_public_key=public_pem, jwt_algorithms=("HS256", "RS256")
    )
    verifier = TokenVerifier(settings)
    forged = _hmac_forge(_claims(scope=ADMIN), public_pem.encode())
    assert await _reason(verifier, f"Bearer {forged}") == "invalid signature"
    # Both kinds of legitimate token still verify.
    assert (await verifier.verify(f"Bearer {_hs256(_claims())}")).subject == "alice"
    rs = jwt.encode(_claims(), rsa_keys[1], algorithm="RS256")
    assert (await verifier.verify(f"Bearer {rs}")).subject == "alice"


async def test_algorithm_outside_the_pinned_list_is_rejected_even_with_key_material(
    rsa_keys: tuple[rsa.RSAPrivateKey, str, str],
) -> None:
    # A secret is configured (e.g. for the CLI) but only RS256 is pinned.
    settings = Settings(jwt_secret=SECRET, jwt_public_key=rsa_keys[2], jwt_algorithms=("RS256",))
    verifier = TokenVerifier(settings)
    assert await _reason(verifier, f"Bearer {_hs256(_claims())}") == "algorithm not allowed"


async def test_missing_sub_is_rejected() -> None:
    token = _hs256(_claims(sub=None))
    assert await _reason(TokenVerifier(_hs_settings()), f"Bearer {token}") == (
        "token missing required claim 'sub'"
    )


async def test_missing_exp_is_rejected() -> None:
    token = _hs256(_claims(exp=None))
    assert await _reason(TokenVerifier(_hs_settings()), f"Bearer {token}") == (
        "token missing required claim 'exp'"
    )


@pytest.mark.parametrize("sub", ["", 42])
async def test_empty_or_non_string_sub_is_rejected(sub: Any) -> None:
    token = _hs256(_claims(sub=sub))
    assert await _reason(TokenVerifier(_hs_settings()), f"Bearer {token}") == "invalid subject"


async def test_not_yet_valid_token_is_rejected() -> None:
    token = _hs256(_claims(nbf=int(time.time()) + 3600))
    assert await _reason(TokenVerifier(_hs_settings()), f"Bearer {token}") == (
        "token not yet valid"
    )


_FAR = int(time.time()) + 3600
_PAST = int(time.time()) - 60
_VALID_TIME = {"exp": _FAR, "nbf": _PAST, "iat": _PAST}


def _time_token(claim: str, value: Any) -> str:
    claims = {**_claims(exp=_FAR), "nbf": _PAST}
    claims[claim] = value  # None stays: JSON null
    return _hs256(claims)


# What PyJWT takes (it reads these claims with int()): a numeric string, a boolean (an int in
# Python; true/false are 1/0, in the past, so they pass as nbf or iat), an int too large
# for a float (``expires_at`` overflowed: a 500).
@pytest.mark.parametrize(("claim", "value"), [
    *[(claim, str(_VALID_TIME[claim])) for claim in _VALID_TIME],
    ("nbf", True), ("nbf", False), ("iat", True), ("iat", False), ("exp", 10**400),
], ids=lambda v: repr(v)[:20])
async def test_time_claims_that_are_not_json_numbers_are_refused(claim: str, value: Any
                                                                 ) -> None:
    reason = await _reason(TokenVerifier(_hs_settings()), f"Bearer {_time_token(claim, value)}")
    assert reason == f"invalid claim '{claim}': must be a number"


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", [True, False, None, float("nan"), float("inf"),
                                   float("-inf"), [_FAR], {"t": _FAR}, "", "soon", f"{_FAR}.0"],
                         ids=repr)
async def test_malformed_time_claims_are_always_refused(claim: str, value: Any) -> None:
    # Some PyJWT refuses itself (null exp is "missing", NaN "malformed"): a 401 either way.
    await _reason(TokenVerifier(_hs_settings()), f"Bearer {_time_token(claim, value)}")


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
async def test_time_claims_as_json_numbers_are_accepted(claim: str) -> None:
    for value in (_VALID_TIME[claim], float(_VALID_TIME[claim]) + 0.5):
        token = _hs256({**_claims(exp=_FAR), claim: value})
        principal = await TokenVerifier(_hs_settings()).verify(f"Bearer {token}")
        assert principal.subject == "alice"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing bearer token"),
        ("", "missing bearer token"),
        ("   ", "missing bearer token"),
        ("Bearer", "malformed authorization header"),
        ("Basic dXNlcjpwYXNz", "malformed authorization header"),
        ("Bearer a.b.c extra", "malformed authorization header"),
        ("Token a.b.c", "malformed authorization header"),
        ("Bearer not-a-jwt", "malformed token"),
        ("Bearer a.b.c", "malformed token"),
        ("Bearer " + "a" * 20_000 + ".b.c", "token too large"),
    ],
)
async def test_malformed_authorization_header_is_rejected(header: str | None, reason: str) -> None:
    assert await _reason(TokenVerifier(_hs_settings()), header) == reason


async def test_auth_error_message_never_contains_the_token() -> None:
    token = _hs256(_claims(), secret="another-secret-that-is-also-long-enough-xx")
    message = await _reason(TokenVerifier(_hs_settings()), f"Bearer {token}")
    assert token not in message
    assert token.split(".")[2] not in message


# --- issuer and audience ---------------------------------------------------------


async def test_issuer_and_audience_are_enforced_when_configured() -> None:
    verifier = TokenVerifier(_hs_settings(jwt_issuer="https://idp", jwt_audience="fngate"))
    good = _hs256(_claims(iss="https://idp", aud="fngate"))
    assert (await verifier.verify(f"Bearer {good}")).issuer == "https://idp"
    bad_iss = _hs256(_claims(iss="https://evil", aud="fngate"))
    assert await _reason(verifier, f"Bearer {bad_iss}") == "invalid issuer"
    bad_aud = _hs256(_claims(iss="https://idp", aud="other"))
    assert await _reason(verifier, f"Bearer {bad_aud}") == "invalid audience"
    no_iss = _hs256(_claims(aud="fngate"))
    assert await _reason(verifier, f"Bearer {no_iss}") == "token missing required claim 'iss'"
    no_aud = _hs256(_claims(iss="https://idp"))
    assert await _reason(verifier, f"Bearer {no_aud}") == "token missing required claim 'aud'"


async def test_issuer_and_audience_are_not_checked_when_not_configured() -> None:
    token = _hs256(_claims(iss="https://anyone", aud="anything"))
    principal = await TokenVerifier(_hs_settings()).verify(f"Bearer {token}")
    assert principal.issuer == "https://anyone"
    assert principal.key == "https://anyone|alice"


@pytest.mark.parametrize("iss", ["a|b", 7])
async def test_issuer_that_could_make_keys_collide_is_rejected(iss: Any) -> None:
    token = _hmac_forge(_claims(iss=iss), SECRET.encode())  # PyJWT will not encode iss=7
    assert await _reason(TokenVerifier(_hs_settings()), f"Bearer {token}") == "invalid issuer"


# --- RS256 / ES256 with PEM keys -----------------------------------------------


async def test_rs256_token_verifies_with_pem_text(
    rsa_keys: tuple[rsa.RSAPrivateKey, str, str],
) -> None:
    _, private_pem, public_pem = rsa_keys
    verifier = TokenVerifier(Settings(jwt_public_key=public_pem))
    token = mint_token(secret=private_pem, subject="svc", scopes=[ADMIN], algorithm="RS256")
    principal = await verifier.verify(f"Bearer {token}")
    assert (principal.subject, principal.scopes) == ("svc", frozenset({ADMIN}))
    # An HS256 token is not accepted by an RS256-only gateway, even a genuine one.
    assert await _reason(verifier, f"Bearer {_hs256(_claims())}") == "algorithm not allowed"


async def test_rs256_token_signed_by_another_key_is_rejected(
    rsa_keys: tuple[rsa.RSAPrivateKey, str, str],
) -> None:
    _, other_private, _ = _rsa_keypair()
    verifier = TokenVerifier(Settings(jwt_public_key=rsa_keys[2]))
    token = mint_token(secret=other_private, subject="svc", scopes="", algorithm="RS256")
    assert await _reason(verifier, f"Bearer {token}") == "invalid signature"


async def test_es256_token_verifies_with_pem_file(tmp_path: Path, ec_keys: tuple[str, str]) -> None:
    private_pem, public_pem = ec_keys
    pem_file = tmp_path / "jwt.pub.pem"
    pem_file.write_text(public_pem)
    verifier = TokenVerifier(Settings(jwt_public_key=str(pem_file), jwt_algorithms=("ES256",)))
    token = mint_token(secret=private_pem, subject="svc", scopes="read:jobs", algorithm="ES256")
    principal = await verifier.verify(f"Bearer {token}")
    assert principal.scopes == {READ_JOBS}


def test_ec_key_with_rs256_pinned_fails_at_construction(ec_keys: tuple[str, str]) -> None:
    with pytest.raises(KeyConfigError, match="cannot verify RS256"):
        TokenVerifier(Settings(jwt_public_key=ec_keys[1]))


def test_hs256_without_secret_fails_at_construction() -> None:
    with pytest.raises(KeyConfigError, match="needs a JWT secret"):
        TokenVerifier(Settings())


def test_unreadable_or_invalid_pem_fails_at_construction(
    tmp_path: Path, rsa_keys: tuple[rsa.RSAPrivateKey, str, str]
) -> None:
    with pytest.raises(KeyConfigError, match="cannot read"):
        TokenVerifier(Settings(jwt_public_key=str(tmp_path / "missing.pem")))
    with pytest.raises(KeyConfigError, match="not a PEM public key") as info:
        TokenVerifier(Settings(jwt_public_key=rsa_keys[1]))  # a private key
    assert "PRIVATE" not in str(info.value)


# --- verified-token cache --------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def decode_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real_decode = jwt.decode

    def counting_decode(token: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(token)
        return real_decode(token, *args, **kwargs)

    # auth.jwt calls jwt.decode through the module, so patching the module attribute counts.
    monkeypatch.setattr(jwt, "decode", counting_decode)
    return calls


async def test_cache_returns_same_principal_without_reverifying(decode_calls: list[str]) -> None:
    verifier = TokenVerifier(_hs_settings())
    header = f"Bearer {_hs256(_claims(scope=READ_JOBS))}"
    first = await verifier.verify(header)
    second = await verifier.verify(header)
    assert second is first
    assert len(decode_calls) == 1


async def test_cached_token_is_rejected_after_it_expires(decode_calls: list[str]) -> None:
    clock = _Clock()
    verifier = TokenVerifier(_hs_settings(), leeway_s=0, clock=clock)
    claims = _claims(exp=int(clock.now) + 2)
    header = f"Bearer {_hs256(claims)}"
    assert (await verifier.verify(header)).expires_at == claims["exp"]
    clock.now = claims["exp"] - 0.5
    assert (await verifier.verify(header)).subject == "alice"
    clock.now = claims["exp"] + 0.001
    assert await _reason(verifier, header) == "token expired"
    # Still rejected on the next call, when the entry has gone from the cache.
    assert await _reason(verifier, header) == "token expired"
    assert len(decode_calls) == 2


async def test_cache_honours_leeway_like_fresh_verification() -> None:
    clock = _Clock()
    verifier = TokenVerifier(_hs_settings(), leeway_s=5, clock=clock)
    claims = _claims(exp=int(clock.now) + 2)
    header = f"Bearer {_hs256(claims)}"
    await verifier.verify(header)
    clock.now = claims["exp"] + 4
    assert (await verifier.verify(header)).subject == "alice"
    clock.now = claims["exp"] + 5
    assert await _reason(verifier, header) == "token expired"


async def test_cache_is_bounded_and_evicts_oldest(decode_calls: list[str]) -> None:
    verifier = TokenVerifier(_hs_settings(), cache_size=2)
    headers = [f"Bearer {_hs256(_claims(sub=f'user{i}'))}" for i in range(3)]
    for h in headers:
        await verifier.verify(h)
    assert len(decode_calls) == 3
    await verifier.verify(headers[2])
    await verifier.verify(headers[1])
    assert len(decode_calls) == 3
    await verifier.verify(headers[0])  # evicted: verified again
    assert len(decode_calls) == 4


async def test_rejected_tokens_are_not_cached(decode_calls: list[str]) -> None:
    verifier = TokenVerifier(_hs_settings())
    header = f"Bearer {_hs256(_claims(), secret='another-secret-that-is-also-long-enough-xx')}"
    for _ in range(2):
        assert await _reason(verifier, header) == "invalid signature"
    assert len(decode_calls) == 2


# --- JWKS ----------------------------------------------------------------------


class _JwksServer:
    def __init__(self, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def jwks(rsa_keys: tuple[rsa.RSAPrivateKey, str, str]) -> Iterator[_JwksServer]:
    jwk = RSAAlgorithm.to_jwk(rsa_keys[0].public_key(), as_dict=True)
    jwk.update({"kid": "key-1", "use": "sig", "alg": "RS256"})
    with _JwksServer({"keys": [jwk]}) as server:
        yield server


async def test_jwks_rs256_token_with_kid_verifies_and_keys_are_cached(
    jwks: _JwksServer, rsa_keys: tuple[rsa.RSAPrivateKey, str, str]
) -> None:
    verifier = TokenVerifier(Settings(jwks_url=jwks.url))
    for sub in ("alice", "bob"):
        token = mint_token(
            secret=rsa_keys[1], subject=sub, scopes="admin", algorithm="RS256", key_id="key-1"
        )
        principal = await verifier.verify(f"Bearer {token}")
        assert (principal.subject, principal.scopes) == (sub, frozenset({ADMIN}))
    assert jwks.requests == 1


async def test_jwks_rejects_unknown_or_missing_kid_and_foreign_signature(
    jwks: _JwksServer, rsa_keys: tuple[rsa.RSAPrivateKey, str, str]
) -> None:
    verifier = TokenVerifier(Settings(jwks_url=jwks.url))
    private_pem = rsa_keys[1]
    unknown = mint_token(
        secret=private_pem, subject="a", scopes="", algorithm="RS256", key_id="key-2"
    )
    assert await _reason(verifier, f"Bearer {unknown}") == "unknown signing key"
    no_kid = mint_token(secret=private_pem, subject="a", scopes="", algorithm="RS256")
    assert await _reason(verifier, f"Bearer {no_kid}") == "token missing key id"
    _, other_private, _ = _rsa_keypair()
    foreign = mint_token(
        secret=other_private, subject="a", scopes="", algorithm="RS256", key_id="key-1"
    )
    assert await _reason(verifier, f"Bearer {foreign}") == "invalid signature"


async def test_jwks_unreachable_is_an_auth_error(
    rsa_keys: tuple[rsa.RSAPrivateKey, str, str],
) -> None:
    with _JwksServer({"keys": []}) as server:
        url = server.url  # a port that is closed once the server stops
    verifier = TokenVerifier(Settings(jwks_url=url))
    token = mint_token(
        secret=rsa_keys[1], subject="a", scopes="", algorithm="RS256", key_id="key-1"
    )
    assert await _reason(verifier, f"Bearer {token}") == "signing keys unavailable"


# --- scope helpers ---------------------------------------------------------------


def _principal(*scopes: str, issuer: str | None = None) -> Principal:
    return Principal(subject="u", issuer=issuer, scopes=frozenset(scopes), expires_at=0.0)


def test_principal_key_joins_issuer_and_subject() -> None:
    assert _principal(issuer="https://idp").key == "https://idp|u"
    assert _principal().key == "|u"


def test_has_scope_requires_the_scope_unless_admin() -> None:
    assert has_scope(_principal(READ_FUNCTIONS), READ_FUNCTIONS)
    assert not has_scope(_principal(READ_FUNCTIONS), READ_JOBS)
    assert not has_scope(_principal(), READ_FUNCTIONS)
    assert has_scope(_principal(ADMIN), READ_JOBS)
    assert has_scope(_principal(ADMIN), "anything:else")


def test_execute_scope_for_language() -> None:
    assert execute_scope_for("python") == "execute:python"
    assert execute_scope_for("nodejs") == "execute:nodejs"


def test_can_execute_by_language_all_or_admin() -> None:
    assert can_execute(_principal("execute:python"), "python")
    assert not can_execute(_principal("execute:python"), "nodejs")
    assert can_execute(_principal(EXECUTE_ALL), "nodejs")
    assert can_execute(_principal(ADMIN), "nodejs")
    assert not can_execute(_principal(READ_FUNCTIONS, WRITE_FUNCTIONS), "python")


def test_can_manage_needs_write_functions_or_admin() -> None:
    assert can_manage(_principal(WRITE_FUNCTIONS))
    assert can_manage(_principal(ADMIN))
    assert not can_manage(_principal(READ_FUNCTIONS, EXECUTE_ALL))


def test_can_read_all_jobs_needs_read_jobs_or_admin() -> None:
    assert can_read_all_jobs(_principal(READ_JOBS))
    assert can_read_all_jobs(_principal(ADMIN))
    assert not can_read_all_jobs(_principal(READ_FUNCTIONS, WRITE_FUNCTIONS, EXECUTE_ALL))
