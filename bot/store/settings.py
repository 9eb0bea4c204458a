"""A server's own settings: the model, the keys admins may set, and parsing what they type."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SettingError(ValueError):
    """A setting value that cannot be used; the message names the key."""


class GuildSettings(BaseModel):
    """A server's own settings; None / empty means "use the operator's config"."""

    model_config = ConfigDict(extra="forbid")

    allowed_channels: list[int] = Field(default_factory=list)
    admin_roles: list[int] = Field(default_factory=list)
    public_by_default: bool | None = None
    results: int | None = Field(default=None, ge=1, le=10)
    audit_channel: int | None = None


SETTING_KEYS = {
    "allowed_channels": "channels I answer in (mentions or ids; none: all)",
    "admin_roles": "roles that may change the corpus and settings, besides Manage Server",
    "public_by_default": "answers visible to the channel unless asked otherwise (true/false)",
    "results": "quotes per answer, 1-10",
    "audit_channel": "channel where corpus changes are posted (none: off)",
}
_CHANNEL_ID = re.compile(r"<#(\d+)>|(\d{5,25})")
_ROLE_ID = re.compile(r"<@&(\d+)>|(\d{5,25})")
_BOOLS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def parse_setting(key: str, raw: str) -> Any:
    """The value a user typed for ``key``, validated; "default" resets the key."""
    if key not in SETTING_KEYS:
        raise SettingError(f"unknown setting {key!r}; one of: {', '.join(SETTING_KEYS)}")
    text = raw.strip()
    if text.lower() == "default":
        return GuildSettings.model_fields[key].get_default(call_default_factory=True)
    if key in ("allowed_channels", "admin_roles"):
        if text.lower() in ("", "none"):
            return []
        pattern, kind = (
            (_CHANNEL_ID, "channel") if key == "allowed_channels" else (_ROLE_ID, "role")
        )
        leftover = pattern.sub("", text).replace(",", " ").strip()
        if leftover:
            raise SettingError(f"{key}: give {kind} mentions or ids, not {leftover!r}")
        return list(dict.fromkeys(int(a or b) for a, b in pattern.findall(text)))
    if key == "public_by_default":
        if text.lower() not in _BOOLS:
            raise SettingError(f"{key}: true or false (or default)")
        return _BOOLS[text.lower()]
    if key == "audit_channel":
        if text.lower() in ("", "none"):
            return None
        found = _CHANNEL_ID.fullmatch(text)
        if not found:
            raise SettingError(f"{key}: a channel mention or id, or none")
        return int(found[1] or found[2])
    try:
        return int(text)
    except ValueError:
        raise SettingError(f"{key}: a whole number from 1 to 10 (or default)") from None
