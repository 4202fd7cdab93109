"""Settings refuse what cannot work, at start, with what to do instead."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from service.adapters.event_store import eventsourcing_env
from service.config import ConfigError, load_settings


def test_a_malformed_cipher_key_is_refused_with_how_to_make_one() -> None:
    with pytest.raises(ConfigError, match=r"os\.urandom"):
        eventsourcing_env("sqlite:///x.sqlite3", cipher_key="not-a-key")


def test_a_good_cipher_key_turns_on_encryption_at_rest() -> None:
    key = base64.b64encode(bytes(32)).decode()
    env = eventsourcing_env("sqlite:///x.sqlite3", cipher_key=key)
    assert env["CIPHER_TOPIC"] == "eventsourcing.cipher:AESCipher"


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("LW_MQTT_URL", "http://broker", "mqtt://"),
        ("LW_HTTP_ADDR", "8080", "HOST:PORT"),
        ("LW_EMBEDDED_MQTT_PORT", "x", "port number"),
        ("TWILIO_ACCOUNT_SID", "AC123", "all three"),
    ],
)
def test_bad_settings_say_what_to_fix(name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_settings({name: value})


def test_the_default_store_is_the_same_file_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = load_settings({}).database_url
    monkeypatch.chdir(str(tmp_path))
    assert load_settings({}).database_url == here
    path = here.removeprefix("sqlite:///")
    assert path.startswith("/") and path.endswith("var/lonewatch.sqlite3")


def test_a_store_named_in_the_environment_is_used_as_given() -> None:
    assert load_settings({"LW_DATABASE_URL": "sqlite:///x.sqlite3"}).database_url == (
        "sqlite:///x.sqlite3"
    )
