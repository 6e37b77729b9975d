"""Signing key storage, the signature headers, the JWKS, and verification of both."""

from __future__ import annotations

import base64
import hashlib
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from openfal.webhooks import SigningKey, jwks, sign_headers, verify
from openfal.webhooks.verify import b64url_decode

BODY = b'{"request_id":"req-1","status":"OK","payload":{"images":[]}}'
NOW = 1_700_000_000


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


def signed(key: SigningKey, body: bytes = BODY, ts: int = NOW) -> dict[str, str]:
    return sign_headers(key, "req-1", "user-1", body, timestamp=ts)


# --- key storage -------------------------------------------------------------------------


def test_key_file_created_owner_only_and_reloaded_with_same_kid(tmp_path: Path) -> None:
    path = tmp_path / "data" / "keys" / "webhook_ed25519.pem"
    created = SigningKey.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    reloaded = SigningKey.load_or_create(path)
    assert reloaded.kid == created.kid
    assert reloaded.public_bytes == created.public_bytes
    # No temporary files are left next to the key.
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_key_created_owner_only_despite_permissive_umask(tmp_path: Path) -> None:
    import os

    old = os.umask(0)
    try:
        SigningKey.load_or_create(tmp_path / "k.pem")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600


def test_concurrent_starters_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    barrier = threading.Barrier(8)
    kids: list[str] = []

    def start() -> None:
        barrier.wait()
        kids.append(SigningKey.load_or_create(path).kid)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(kids) == 8
    assert set(kids) == {SigningKey.load_or_create(path).kid}


def test_key_file_of_another_type_is_rejected(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "k.pem").write_bytes(other)
    with pytest.raises(ValueError, match="Ed25519"):
        SigningKey.load_or_create(tmp_path / "k.pem")


def test_kid_is_the_rfc7638_thumbprint() -> None:
    # RFC 8037 appendix A.1-A.3: an Ed25519 key and its JWK thumbprint.
    d = b64url_decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
    key = SigningKey(Ed25519PrivateKey.from_private_bytes(d))
    assert key.public_jwk()["x"] == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert key.kid == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_repr_hides_key_material(key: SigningKey) -> None:
    assert repr(key) == f"SigningKey(kid={key.kid!r})"


# --- headers and JWKS --------------------------------------------------------------------


def test_sign_headers_shape(key: SigningKey) -> None:
    headers = signed(key)
    assert headers == {
        "Content-Type": "application/json",
        "X-Fal-Webhook-Request-Id": "req-1",
        "X-Fal-Webhook-User-Id": "user-1",
        "X-Fal-Webhook-Timestamp": str(NOW),
        "X-Fal-Webhook-Signature": headers["X-Fal-Webhook-Signature"],
    }
    assert len(headers["X-Fal-Webhook-Signature"]) == 128
    int(headers["X-Fal-Webhook-Signature"], 16)


def test_sign_headers_defaults_to_now(key: SigningKey) -> None:
    import time

    before = int(time.time())
    ts = int(sign_headers(key, "r", "u", BODY)["X-Fal-Webhook-Timestamp"])
    assert before <= ts <= int(time.time())


@pytest.mark.parametrize("field", ["request_id", "user_id"])
def test_sign_headers_refuses_line_breaks(key: SigningKey, field: str) -> None:
    args = {"request_id": "r", "user_id": "u", field: "a\nb"}
    with pytest.raises(ValueError, match=field):
        sign_headers(key, args["request_id"], args["user_id"], BODY)


def test_jwks_shape_and_rotation(key: SigningKey) -> None:
    old = SigningKey.generate()
    document = jwks([key, old, key])
    assert [k["kid"] for k in document["keys"]] == [key.kid, old.kid]
    for jwk in document["keys"]:
        assert set(jwk) == {"kty", "crv", "x", "kid", "use", "alg"}
        assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == (
            "OKP",
            "Ed25519",
            "sig",
            "EdDSA",
        )
        assert "=" not in jwk["x"]
        assert len(b64url_decode(jwk["x"])) == 32


def fal_reference_verify(headers: dict[str, str], body: bytes, document: dict[str, Any]) -> bool:
    """fal's documented receiver algorithm, written independently of openfal."""
    parts = [
        headers["X-Fal-Webhook-Request-Id"],
        headers["X-Fal-Webhook-User-Id"],
        headers["X-Fal-Webhook-Timestamp"],
        hashlib.sha256(body).hexdigest(),
    ]
    message = "\n".join(parts).encode("utf-8")
    signature = bytes.fromhex(headers["X-Fal-Webhook-Signature"])
    for jwk in document["keys"]:
        x = jwk["x"]
        raw = base64.urlsafe_b64decode(x + "=" * ((4 - len(x) % 4) % 4))
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(signature, message)
            return True
        except InvalidSignature:
            continue
    return False


def test_signature_matches_fal_receiver_algorithm(key: SigningKey) -> None:
    assert fal_reference_verify(signed(key), BODY, jwks([key]))


# --- verify --------------------------------------------------------------------------------


def test_round_trip(key: SigningKey) -> None:
    assert verify(signed(key), BODY, jwks([key]), now=NOW)


def test_round_trip_at_current_time(key: SigningKey) -> None:
    assert verify(sign_headers(key, "r", "u", BODY), BODY, jwks([key]))


def test_header_names_are_case_insensitive(key: SigningKey) -> None:
    headers = signed(key)
    document = jwks([key])
    assert verify({k.lower(): v for k, v in headers.items()}, BODY, document, now=NOW)
    assert verify({k.upper(): v for k, v in headers.items()}, BODY, document, now=NOW)


def test_accepts_bytes_like_bodies(key: SigningKey) -> None:
    assert verify(signed(key), bytearray(BODY), jwks([key]), now=NOW)


@pytest.mark.parametrize("position", [0, len(BODY) // 2, len(BODY) - 1])
def test_one_altered_body_byte_fails(key: SigningKey, position: int) -> None:
    body = bytearray(BODY)
    body[position] ^= 0x01
    assert not verify(signed(key), bytes(body), jwks([key]), now=NOW)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Fal-Webhook-Request-Id", "req-2"),
        ("X-Fal-Webhook-User-Id", "user-2"),
        ("X-Fal-Webhook-Timestamp", str(NOW + 1)),
        ("X-Fal-Webhook-Timestamp", "0" + str(NOW)),  # same number, other spelling
    ],
)
def test_altered_header_fails(key: SigningKey, header: str, value: str) -> None:
    headers = signed(key)
    headers[header] = value
    assert not verify(headers, BODY, jwks([key]), now=NOW)


def test_altered_signature_fails(key: SigningKey) -> None:
    headers = signed(key)
    sig = bytearray(bytes.fromhex(headers["X-Fal-Webhook-Signature"]))
    sig[10] ^= 0x80
    headers["X-Fal-Webhook-Signature"] = sig.hex()
    assert not verify(headers, BODY, jwks([key]), now=NOW)


@pytest.mark.parametrize(
    ("skew", "ok"),
    [(0, True), (300, True), (-300, True), (301, False), (-301, False), (86_400, False)],
)
def test_timestamp_tolerance(key: SigningKey, skew: int, ok: bool) -> None:
    assert verify(signed(key), BODY, jwks([key]), now=NOW + skew) is ok


def test_custom_tolerance(key: SigningKey) -> None:
    assert not verify(signed(key), BODY, jwks([key]), now=NOW + 60, tolerance=30)
    assert verify(signed(key), BODY, jwks([key]), now=NOW + 60, tolerance=90)


def test_wrong_key_fails(key: SigningKey) -> None:
    assert not verify(signed(key), BODY, jwks([SigningKey.generate()]), now=NOW)


def test_rotation_either_key_verifies(key: SigningKey) -> None:
    new = SigningKey.generate()
    document = jwks([new, key])
    assert verify(signed(key), BODY, document, now=NOW)
    assert verify(signed(new), BODY, document, now=NOW)


def test_non_ed25519_keys_are_skipped(key: SigningKey) -> None:
    document = {
        "keys": [
            {"kty": "RSA", "n": "abc", "e": "AQAB"},
            {"kty": "OKP", "crv": "X25519", "x": key.public_jwk()["x"]},
            {**key.public_jwk(), "use": "enc"},
            "not a key",
            {**key.public_jwk(), "x": "!!!"},
            {**key.public_jwk(), "x": "AAAA"},
        ]
    }
    assert not verify(signed(key), BODY, document, now=NOW)
    document["keys"].append(key.public_jwk())
    assert verify(signed(key), BODY, document, now=NOW)


def test_minimal_jwk_without_optional_members(key: SigningKey) -> None:
    jwk = key.public_jwk()
    minimal = {"kty": "OKP", "crv": "Ed25519", "x": jwk["x"]}
    assert verify(signed(key), BODY, {"keys": [minimal]}, now=NOW)


def _malformed_header_cases() -> list[tuple[str, str | None]]:
    return [
        ("X-Fal-Webhook-Request-Id", None),
        ("X-Fal-Webhook-User-Id", None),
        ("X-Fal-Webhook-Timestamp", None),
        ("X-Fal-Webhook-Signature", None),
        ("X-Fal-Webhook-Timestamp", "not-a-number"),
        ("X-Fal-Webhook-Timestamp", f" {NOW}"),
        ("X-Fal-Webhook-Timestamp", f"+{NOW}"),
        ("X-Fal-Webhook-Timestamp", "1.7e9"),
        ("X-Fal-Webhook-Timestamp", "\u0661\u0667" + "\u0660" * 8),  # Arabic-Indic digits
        ("X-Fal-Webhook-Signature", "zz" * 64),
        ("X-Fal-Webhook-Signature", "ab" * 63),
        ("X-Fal-Webhook-Signature", ""),
    ]


@pytest.mark.parametrize(("header", "value"), _malformed_header_cases())
def test_malformed_headers_fail(key: SigningKey, header: str, value: str | None) -> None:
    headers = signed(key)
    if value is None:
        del headers[header]
    else:
        headers[header] = value
    assert not verify(headers, BODY, jwks([key]), now=NOW)


def test_signature_with_spaces_fails(key: SigningKey) -> None:
    headers = signed(key)
    sig = headers["X-Fal-Webhook-Signature"]
    headers["X-Fal-Webhook-Signature"] = sig[:64] + " " + sig[65:]
    assert not verify(headers, BODY, jwks([key]), now=NOW)


@pytest.mark.parametrize(
    "document",
    [{}, {"keys": None}, {"keys": "x"}, {"keys": [None]}, [], None, "jwks", {"keys": [{}]}],
)
def test_malformed_jwks_fail_without_raising(key: SigningKey, document: Any) -> None:
    assert verify(signed(key), BODY, document, now=NOW) is False


@pytest.mark.parametrize("headers", [None, [], {"x": 1}, {1: 2}])
def test_malformed_header_containers_fail_without_raising(key: SigningKey, headers: Any) -> None:
    assert verify(headers, BODY, jwks([key]), now=NOW) is False


def test_non_string_header_values_fail(key: SigningKey) -> None:
    headers: dict[str, Any] = dict(signed(key))
    headers["X-Fal-Webhook-Timestamp"] = NOW
    assert verify(headers, BODY, jwks([key]), now=NOW) is False


def test_body_of_wrong_type_fails_without_raising(key: SigningKey) -> None:
    body: Any = "a str, not bytes"
    assert verify(signed(key), body, jwks([key]), now=NOW) is False


# --- packaging -------------------------------------------------------------------------------


def test_verify_import_loads_no_http_client() -> None:
    code = (
        "import sys\n"
        "from openfal.webhooks import verify\n"
        "assert callable(verify) and verify.__name__ == 'verify', verify\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "assert not loaded & {'httpx', 'httpcore', 'fastapi', 'starlette', 'uvicorn'}, loaded\n"
        "import openfal.webhooks as w\n"
        "assert w.deliver_once.__name__ == 'deliver_once'\n"
        "assert 'httpx' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_package_exports() -> None:
    import openfal.webhooks as w

    for name in w.__all__:
        assert getattr(w, name) is not None, name
    with pytest.raises(AttributeError):
        _ = w.no_such_name
