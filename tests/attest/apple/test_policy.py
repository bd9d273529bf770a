"""Policies are checked when they are built."""

from __future__ import annotations

from datetime import timedelta

import pytest

from attest.apple import AppAttestApp, AppAttestPolicy, Environment, ReceiptPolicy
from attest.errors import ConfigurationError

APP = AppAttestApp("ABCDE12345.com.example.app")


@pytest.mark.parametrize(
    "app_id",
    ["com.example.app", "abcde12345.com.example.app", "ABCDE1234.com.example", "ABCDE12345.", "ABCDE12345.a b", ""],
)
def test_app_id_must_be_team_and_bundle(app_id: str) -> None:
    with pytest.raises(ConfigurationError):
        AppAttestApp(app_id)


def test_environment_is_normalised_and_checked() -> None:
    assert AppAttestApp("ABCDE12345.com.example.app", "development").environment is Environment.DEVELOPMENT  # type: ignore[arg-type]
    assert APP.environment is Environment.PRODUCTION
    with pytest.raises(ConfigurationError):
        AppAttestApp("ABCDE12345.com.example.app", "sandbox")  # type: ignore[arg-type]


def test_environment_names() -> None:
    assert Environment.PRODUCTION.aaguid == b"appattest\x00\x00\x00\x00\x00\x00\x00"
    assert Environment.DEVELOPMENT.aaguid == b"appattestdevelop"
    assert Environment.from_aaguid(b"appattestdevelop") is Environment.DEVELOPMENT
    assert Environment.from_aaguid(b"appattest") is None
    assert Environment.from_receipt_name("sandbox") is Environment.DEVELOPMENT
    assert Environment.from_receipt_name("production") is Environment.PRODUCTION
    assert Environment.from_receipt_name("development") is None


def test_policy_needs_apps_and_anchors() -> None:
    with pytest.raises(ConfigurationError):
        AppAttestPolicy(apps=())
    with pytest.raises(ConfigurationError):
        AppAttestPolicy(apps=(APP,), anchors=())
    with pytest.raises(ConfigurationError):
        AppAttestPolicy(apps=("ABCDE12345.com.example.app",))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        ReceiptPolicy(apps=())


def test_policy_lookup() -> None:
    development = AppAttestApp("ABCDE12345.com.example.app", Environment.DEVELOPMENT)
    policy = AppAttestPolicy(apps=[APP, development])  # type: ignore[arg-type]
    assert policy.apps == (APP, development)
    assert policy.apps_for(APP.rp_id_hash) == (APP, development)
    assert policy.apps_for(b"\x00" * 32) == ()
    assert policy.app_ids == ("ABCDE12345.com.example.app",)
    receipt_policy = ReceiptPolicy(apps=(APP, development))
    assert receipt_policy.environments_for(APP.app_id) == {Environment.PRODUCTION, Environment.DEVELOPMENT}
    assert receipt_policy.environments_for("ZYXWV98765.other") == frozenset()


def test_receipt_policy_times() -> None:
    with pytest.raises(ConfigurationError):
        ReceiptPolicy(apps=(APP,), max_age=timedelta(0))
    with pytest.raises(ConfigurationError):
        ReceiptPolicy(apps=(APP,), clock_skew=timedelta(days=2))
    with pytest.raises(ConfigurationError):
        ReceiptPolicy(apps=(APP,), clock_skew=timedelta(seconds=-1))
    assert ReceiptPolicy(apps=(APP,), max_age=timedelta(minutes=5)).max_age == timedelta(minutes=5)
    with pytest.raises(ConfigurationError):
        ReceiptPolicy(apps=(APP,), signer_marker_oid="not an oid")


def test_policies_are_frozen() -> None:
    policy = AppAttestPolicy(apps=(APP,))
    with pytest.raises(AttributeError):
        policy.apps = ()  # type: ignore[misc]
