"""The RunPod key and URL: refused before any request when unusable, and scrubbed from every message.

Where the key came from (an environment variable, a stack setting) is the caller's knowledge, passed in as
`KeySources`, so messages tell the user what to fix without this layer knowing Pulumi.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from components.runpod.errors import InsecureApiUrl, InvalidApiKey

__all__ = ["DEFAULT_API_URL", "ENV_SOURCES", "KeySources", "check_api_key", "check_api_url", "is_loopback",
           "scrub"]

DEFAULT_API_URL = "https://api.runpod.io"


@dataclass(frozen=True)
class KeySources:
    """How a user sets the key and the URL, for messages: `key` and `url` name where they are read from,
    `missing` says how to provide a key, `refused` (when given) where this key came from and what to do once
    RunPod refuses it (401)."""

    key: str
    url: str
    missing: str
    refused: str = ""


ENV_SOURCES = KeySources(key="RUNPOD_API_KEY", url="RUNPOD_API_URL", missing="export RUNPOD_API_KEY")
_CHAR_NAMES = {"\r": "a carriage return (\\r)", "\n": "a line feed (\\n)", "\t": "a tab", " ": "a space"}


def check_api_key(key: str, sources: KeySources = ENV_SOURCES) -> None:
    """A RunPod key is printable ASCII without whitespace. Anything else is refused with where the bad
    character is, never the key: `export RUNPOD_API_KEY=$(cat key.txt)` on a CRLF file keeps a `\\r`."""
    bad = next((i for i, c in enumerate(key) if not (c.isascii() and c.isprintable()) or c.isspace()), None)
    if bad is None:
        return
    char = key[bad]
    what = _CHAR_NAMES.get(char, f"the character U+{ord(char):04X}")
    where = "at its end" if bad == len(key) - 1 else "at its start" if bad == 0 else f"at position {bad + 1}"
    raise InvalidApiKey(f"the RunPod API key ({sources.key}) has {what} {where}: RunPod keys are printable "
                        "ASCII without spaces. Set it again without it, e.g. "
                        f"`export RUNPOD_API_KEY=\"$(tr -d '[:space:]' < key.txt)\"` or {sources.missing}")


def check_api_url(url: str, sources: KeySources = ENV_SOURCES) -> None:
    """The key travels in every request: https, or plain http only to this machine (the tests' fakes)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    shown = f"{parts.scheme}://{host}" if parts is not None and parts.scheme else repr(url[:60])
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise InsecureApiUrl(f"the RunPod API URL ({sources.url}) is {shown}: it must be an https URL such "
                             f"as {DEFAULT_API_URL}")
    if parts.scheme == "http" and not is_loopback(host):
        raise InsecureApiUrl(f"the RunPod API URL ({sources.url}) is {shown}: plain http would send the RunPod "
                             f"API key unencrypted to {host}. Use https (e.g. {DEFAULT_API_URL}); plain http is "
                             "allowed only to this machine (127.0.0.1, localhost, ::1)")


def is_loopback(host: str) -> bool:
    """This machine: localhost or a loopback address (127.0.0.0/8, ::1)."""
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def scrub(text: str, *secrets: str | None) -> str:
    """`text` without any of the secrets in a form an error message may quote them: verbatim, without
    surrounding whitespace, escaped as repr/str of bytes would show them, or in pieces split at whitespace.
    Secrets shorter than 4 characters are left alone: hiding them would mangle ordinary words."""
    forms: set[str] = set()
    for secret in secrets:
        if not secret or len(secret.strip()) < 4:
            continue
        forms |= {secret, secret.strip(), repr(secret)[1:-1], secret.encode("unicode_escape").decode("ascii"),
                  *(part for part in secret.split() if len(part) >= 8)}
    for form in sorted((f for f in forms if f), key=len, reverse=True):
        text = text.replace(form, "***")
    return text
