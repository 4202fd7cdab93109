"""One typed settings object, built once at start-up (INTERFACES.md section 1).

Tests construct `Settings` directly instead of patching the environment.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class MqttEndpoint:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    embedded: bool = False
    tls: bool = False
    """mqtts://: the broker's certificate is checked against `ca_file` (or the system's CAs)."""
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    """A client certificate, for a broker that asks for one (optional)."""


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    from_number: str
    api_base: str | None = None


OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/lonewatch.sqlite3"
    mqtt_url: str = "embedded"
    embedded_mqtt_port: int = 1884
    http_addr: str = "127.0.0.1:8080"
    directory: Path | None = None
    public_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_api_base: str | None = None
    cipher_key: str | None = None
    # The Merkle log's tree heads (docs/security.md): the Ed25519 key, and how often a head
    # is signed over the events recorded since the last one.
    signing_key: str | None = None
    signing_interval: float = 60.0
    # Extensions beyond INTERFACES.md section 1 (documented in README):
    mqtt_topic_prefix: str = ""
    mqtt_client_id: str = "lonewatch-gateway"
    # Several gateways share the device traffic through $share/<group>/...; each needs
    # its own stable LW_MQTT_CLIENT_ID (its session holds its in-flight messages).
    mqtt_share_group: str = ""
    # mqtts://: the CA that signed the broker's certificate (default: the system's), and
    # this service's own certificate and key if the broker asks for one.
    mqtt_ca_file: str | None = None
    mqtt_cert_file: str | None = None
    mqtt_key_file: str | None = None
    # With LW_MQTT_URL=nats://...: the JetStream stream of device messages (docs/scale-out.md).
    nats_stream: str = "LONEWATCH_DEVICES"
    log_format: str = "console"
    metrics: bool = True
    """Serve GET /metrics (INTERFACES.md section 11, `LW_METRICS`: on/off)."""
    # Per client (a user, or an address before sign-in), as `limits` reads it: "N/second;M/minute".
    api_rate_limit: str = "50/second;1500/minute"
    poll_interval: float = 0.5
    # The console's maps (docs/console-and-replay.md): a Leaflet tile URL template, or
    # "none" for a plain marker on a neutral background (no request leaves the browser).
    map_tiles: str = OSM_TILES
    map_attribution: str = OSM_ATTRIBUTION
    extra: Mapping[str, str] = field(default_factory=dict)

    # -- derived values -------------------------------------------------

    @property
    def http_host(self) -> str:
        return self._http_parts()[0]

    @property
    def http_port(self) -> int:
        return self._http_parts()[1]

    def _http_parts(self) -> tuple[str, int]:
        host, sep, port = self.http_addr.rpartition(":")
        if not sep or not port.isdigit():
            raise ConfigError(f"LW_HTTP_ADDR must be HOST:PORT, got {self.http_addr!r}")
        return host or "127.0.0.1", int(port)

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.http_addr}").rstrip("/")

    @property
    def nats_servers(self) -> list[str] | None:
        """`nats://HOST:PORT[,HOST:PORT...]`: the NATS cluster's client addresses (the
        gateway on JetStream); None for an MQTT broker."""
        if not self.mqtt_url.startswith("nats://"):
            return None
        addresses = [a.strip() for a in self.mqtt_url.removeprefix("nats://").split(",")]
        if not addresses or not all(_host_port(a) for a in addresses):
            raise ConfigError(
                f"LW_MQTT_URL=nats://... must list HOST:PORT[,HOST:PORT...], got {self.mqtt_url!r}"
            )
        if not self.nats_stream.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(
                f"LW_NATS_STREAM must be letters, digits, - and _, got {self.nats_stream!r}"
            )
        return [f"nats://{address}" for address in addresses]

    @property
    def mqtt(self) -> MqttEndpoint:
        """The MQTT broker; with NATS, its first node's address (the gateway takes device
        messages from JetStream: see `nats_servers`)."""
        servers = self.nats_servers
        if servers is not None:
            host, _, port = servers[0].removeprefix("nats://").rpartition(":")
            return MqttEndpoint(host, int(port))
        if self.mqtt_url == "embedded":
            return MqttEndpoint("127.0.0.1", self.embedded_mqtt_port, embedded=True)
        parts = urlsplit(self.mqtt_url)
        if parts.scheme not in {"mqtt", "tcp", "mqtts", "ssl"} or not parts.hostname:
            raise ConfigError(
                f"LW_MQTT_URL must be mqtt://[USER:PASS@]HOST:PORT, mqtts://... or 'embedded', "
                f"got {self.mqtt_url!r}"
            )
        tls = parts.scheme in {"mqtts", "ssl"}
        if (self.mqtt_cert_file is None) != (self.mqtt_key_file is None):
            raise ConfigError("LW_MQTT_CERT_FILE and LW_MQTT_KEY_FILE go together")
        if not tls and (self.mqtt_ca_file or self.mqtt_cert_file):
            raise ConfigError("LW_MQTT_CA_FILE and LW_MQTT_CERT_FILE need an mqtts:// LW_MQTT_URL")
        return MqttEndpoint(
            host=parts.hostname,
            port=parts.port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            ca_file=self.mqtt_ca_file,
            cert_file=self.mqtt_cert_file,
            key_file=self.mqtt_key_file,
        )

    @property
    def twilio(self) -> TwilioSettings | None:
        values = (self.twilio_account_sid, self.twilio_auth_token, self.twilio_from_number)
        if not any(values):
            return None
        if not all(values):
            raise ConfigError(
                "Twilio needs all of TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                "TWILIO_FROM_NUMBER; set all three, or none for the console notifier"
            )
        return TwilioSettings(
            account_sid=self.twilio_account_sid or "",
            auth_token=self.twilio_auth_token or "",
            from_number=self.twilio_from_number or "",
            api_base=self.twilio_api_base,
        )

    @property
    def map_tile_url(self) -> str | None:
        """The tile URL template the console's maps load, or None when tiles are off."""
        tiles = self.map_tiles.strip()
        if tiles.lower() in {"", "none", "off"}:
            return None
        parts = urlsplit(tiles)
        if parts.scheme not in {"http", "https"} or not parts.netloc or "{z}" not in tiles:
            raise ConfigError(
                "LW_MAP_TILES must be a tile URL like https://tile.example.org/{z}/{x}/{y}.png "
                f"or 'none', got {self.map_tiles!r}"
            )
        return tiles

    @property
    def map_tile_source(self) -> str | None:
        """The tile host as a CSP source (img-src): a `{s}` subdomain becomes `*.`."""
        url = self.map_tile_url
        if url is None:
            return None
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc.replace('{s}.', '*.')}"

    def with_changes(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _host_port(address: str) -> bool:
    host, sep, port = address.rpartition(":")
    return bool(host and sep and port.isdigit())


def default_store_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the store lives when LW_DATABASE_URL is not set, whatever directory a command
    is run from: `var/lonewatch.sqlite3` in the source checkout (where `make run` puts it),
    else in the user's data directory. A relative default once made `lonewatch user password`
    run from another folder create an empty store there and find no users."""
    environ = os.environ if environ is None else environ
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "service").is_dir():
        return checkout / "var" / "lonewatch.sqlite3"
    data_home = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "lonewatch" / "lonewatch.sqlite3"


_ENV_KEYS: dict[str, str] = {
    "LW_DATABASE_URL": "database_url",
    "LW_MQTT_URL": "mqtt_url",
    "LW_EMBEDDED_MQTT_PORT": "embedded_mqtt_port",
    "LW_HTTP_ADDR": "http_addr",
    "LW_API_RATE_LIMIT": "api_rate_limit",
    "LW_MQTT_CA_FILE": "mqtt_ca_file",
    "LW_MQTT_CERT_FILE": "mqtt_cert_file",
    "LW_MQTT_KEY_FILE": "mqtt_key_file",
    "LW_DIRECTORY": "directory",
    "LW_PUBLIC_URL": "public_url",
    "TWILIO_ACCOUNT_SID": "twilio_account_sid",
    "TWILIO_AUTH_TOKEN": "twilio_auth_token",
    "TWILIO_FROM_NUMBER": "twilio_from_number",
    "LW_TWILIO_API_BASE": "twilio_api_base",
    "LW_CIPHER_KEY": "cipher_key",
    "LW_SIGNING_KEY": "signing_key",
    "LW_SIGNING_INTERVAL": "signing_interval",
    "LW_MQTT_TOPIC_PREFIX": "mqtt_topic_prefix",
    "LW_MQTT_CLIENT_ID": "mqtt_client_id",
    "LW_MQTT_SHARE_GROUP": "mqtt_share_group",
    "LW_NATS_STREAM": "nats_stream",
    "LW_LOG_FORMAT": "log_format",
    "LW_POLL_INTERVAL": "poll_interval",
    "LW_MAP_TILES": "map_tiles",
    "LW_MAP_ATTRIBUTION": "map_attribution",
    "LW_METRICS": "metrics",
}


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Settings from a TOML file (same keys as the environment), then the environment on top."""
    environ = os.environ if environ is None else environ
    raw: dict[str, str] = {}
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc}") from exc
        for key, value in data.items():
            if key not in _ENV_KEYS:
                raise ConfigError(f"unknown key {key!r} in {config_file}")
            raw[key] = str(value)
    for key in _ENV_KEYS:
        if environ.get(key):
            raw[key] = environ[key]
    values: dict[str, object] = {}
    for key, value in raw.items():
        name = _ENV_KEYS[key]
        if name == "embedded_mqtt_port":
            if not value.isdigit():
                raise ConfigError(f"{key} must be a port number, got {value!r}")
            values[name] = int(value)
        elif name in ("poll_interval", "signing_interval"):
            try:
                values[name] = float(value)
            except ValueError as exc:
                raise ConfigError(f"{key} must be seconds, got {value!r}") from exc
        elif name == "directory":
            values[name] = Path(value)
        elif name == "metrics":
            if value.lower() not in ("on", "off"):
                raise ConfigError(f"{key} must be on or off, got {value!r}")
            values[name] = value.lower() == "on"
        else:
            values[name] = value
    if "database_url" not in values:
        values["database_url"] = f"sqlite:///{default_store_path()}"
    settings = Settings(**values)  # type: ignore[arg-type]
    # Validate the derived values now so a bad URL fails at start, not at first use.
    _ = (
        settings.mqtt,
        settings.nats_servers,
        settings.twilio,
        settings.http_port,
        settings.map_tile_url,
    )
    _check_rate_limit(settings.api_rate_limit)
    return settings


def _check_rate_limit(value: str) -> None:
    from limits import parse_many

    try:
        parse_many(value)
    except ValueError as exc:
        raise ConfigError(
            f"LW_API_RATE_LIMIT must look like 20/second;600/minute, got {value!r}"
        ) from exc
