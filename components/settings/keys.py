"""Which keys a stack may set, and the secret ones: an unknown key is a typo worth stopping for."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping

from components.names import PROJECT
from components.settings.errors import SettingsError
from components.settings.values import Raw
from components.stack_config import KEYS, SECRET_KEYS

__all__ = ["check_keys", "check_secrets"]

# The image's start script writes the key into nginx's configuration (docker/start.sh, same rule), so it must be
# an RFC 6750 bearer token (b64token): nothing nginx would read as syntax ($, quotes, spaces, ;, braces, \).
_BEARER_TOKEN_RE = re.compile(r"[A-Za-z0-9._~+/-]+=*")


def check_keys(raw: Mapping[str, str | None]) -> None:
    """Refuse keys the stack does not read: a typo (`gpuType`) would otherwise be silently ignored."""
    for key in raw:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f" Did you mean {PROJECT}:{close[0]}?" if close else ""
            # The value is not shown: a mistyped secret key (`vllmApikey`) holds a secret.
            raise SettingsError(key, None, f"this stack has no such setting.{hint} See README.md, Configuration.",
                                hide_value=True)


def check_secrets(raw: Raw) -> None:
    for key in SECRET_KEYS:
        value = raw.get(key)
        if value is None:
            continue
        if not value.strip() or value != value.strip():
            raise SettingsError(key, value, "it is empty or has surrounding spaces; set it again with "
                                f"`pulumi config set --secret {key}`.")
    vllm_key = raw.get("vllmApiKey")
    if vllm_key is not None and len(vllm_key) < 16:
        raise SettingsError("vllmApiKey", vllm_key, "use at least 16 characters, or unset it to have the stack "
                            "generate one.")
    if vllm_key is not None and not _BEARER_TOKEN_RE.fullmatch(vllm_key):
        raise SettingsError("vllmApiKey", vllm_key, "nginx, which guards the server, holds the key in its "
                            "configuration and cannot hold quotes, $, spaces, newlines, backslashes, braces, "
                            "semicolons and the like safely. Use letters, digits and - . _ ~ + / (= only at the "
                            "end), or unset it to have the stack generate one.")
