"""All settings in one typed object, read from TIPBOT_* environment variables and an optional .env file."""

from __future__ import annotations

import ipaddress
import re
from datetime import time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .i18n import LANGUAGES
from .privacy.keys import WEBHOOK_SECRET_PATTERN

TELEGRAM_API = "https://api.telegram.org/bot"
TELEGRAM_FILE_API = "https://api.telegram.org/file/bot"


class ConfigError(Exception):
    """One clear line naming the setting that is wrong."""


def _id_list(value: object) -> object:
    if isinstance(value, str):
        parts = [part for part in re.split(r"[,\s]+", value.strip()) if part]
        try:
            return [int(part) for part in parts]
        except ValueError as error:
            raise ValueError("must be a comma-separated list of numeric Telegram ids") from error
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIPBOT_", env_file=".env", extra="ignore")

    token: SecretStr | None = None
    data_dir: Path = Path("./data")
    database_url: str | None = None
    api_base_url: str = TELEGRAM_API
    api_file_url: str = TELEGRAM_FILE_API
    staff_chat_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    digest_time: time = time(9, 0)
    timezone: str = "Asia/Tashkent"
    staff_language: str = "ru"
    secret_key: SecretStr | None = None
    previous_secret_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    voice_pitch_shift: bool = True
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    listen: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    max_file_mb: int = Field(20, ge=1, le=2000)
    retention_days: int = Field(90, ge=8, le=3650)
    max_reports_per_day: int = Field(5, ge=1, le=1000)
    max_follow_up_messages_per_hour: int = Field(20, ge=1, le=1000)
    max_files_per_hour: int = Field(30, ge=1, le=1000)
    max_report_mb: int = Field(50, ge=1, le=2000)
    """Files of one report together, after cleaning."""
    discreet: bool = True
    """The bot's menu, descriptions, /help and the line left after clearing say nothing about its purpose."""
    clear_idle_minutes: int = Field(30, ge=1, le=24 * 60)
    """A conversation silent this long is deleted from the chat (Telegram allows deleting for 48 hours)."""
    log_level: str = "INFO"

    _split_ids = field_validator("staff_chat_ids", "admin_ids", mode="before")(_id_list)

    @field_validator("previous_secret_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not WEBHOOK_SECRET_PATTERN.fullmatch(value.get_secret_value()):
            raise ValueError("must be 1 to 256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value

    @field_validator("listen")
    @classmethod
    def _ip_address(cls, value: str) -> str:
        """An address, not a name: the webhook server binds exactly where it is told."""
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError as error:
            raise ValueError(f"'{value}' is not an IP address (e.g. 127.0.0.1, or 0.0.0.0 for all)") from error

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone '{value}' (use a name like Asia/Tashkent)") from error
        return value

    @field_validator("staff_language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"must be one of {', '.join(LANGUAGES)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'tipbot.db').resolve()}"

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb * 1024 * 1024


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; a bad value raises ConfigError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        name = "TIPBOT_" + str(first["loc"][0]).upper() if first["loc"] else "TIPBOT_*"
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"invalid setting {name}: {message}") from None
