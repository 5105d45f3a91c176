"""Typed settings for fngate, read from ``FNGATE_*`` variables and ``fngate.toml``."""

from config.settings import (
    Settings,
    SettingsError,
    ensure_data_dir,
    load,
    load_or_create_secret,
    parse_egress_allow,
)

__all__ = [
    "Settings",
    "SettingsError",
    "ensure_data_dir",
    "load",
    "load_or_create_secret",
    "parse_egress_allow",
]
