"""The user's registry credentials, as `docker login` left them: `$DOCKER_CONFIG/config.json` (default
`~/.docker/config.json`) with a credential helper (`credHelpers` for the registry, else `credsStore`, run as
`docker-credential-NAME get`), else the inline `auths` entry (`auth` = base64 of user:password, or `username`
and `password`). Identity tokens (`identitytoken`, a helper's `<token>` user) are not supported: they need
Docker Hub's OAuth refresh flow, and a `docker login` with a personal access token avoids them."""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from components.registry.errors import RegistryError
from components.registry.reference import DOCKER_HUB

__all__ = ["Credentials", "docker_config_path", "docker_credentials"]

_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")
HELPER_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Credentials:
    username: str
    secret: str = field(repr=False)
    source: str = ""  # where they came from, for messages


def docker_config_path(environ: Mapping[str, str]) -> Path:
    base = environ.get("DOCKER_CONFIG") or str(Path(environ.get("HOME") or Path.home()) / ".docker")
    return Path(base) / "config.json"


def _host_of(key: str) -> str:
    return urlsplit(key if "://" in key else f"//{key}").netloc.lower()


def _server(registry: str) -> str:
    """The name `docker login` stores a registry's credentials under."""
    return _HUB_KEYS[0] if registry == DOCKER_HUB else registry


def _matches(key: str, registry: str) -> bool:
    hosts = {_host_of(k) for k in _HUB_KEYS} if registry == DOCKER_HUB else {registry.lower()}
    return _host_of(key) in hosts


def docker_credentials(registry: str, environ: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials for `registry` from the Docker config; None when it holds none for it."""
    env = os.environ if environ is None else environ
    path = docker_config_path(env)
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise RegistryError(f"cannot read the Docker config {path}: {e}") from None
    if not isinstance(config, dict):
        raise RegistryError(f"the Docker config {path} is not a JSON object")
    helpers = config.get("credHelpers") or {}
    helper = next((name for key, name in helpers.items() if _matches(key, registry)), None) \
        or config.get("credsStore")
    found = _from_helper(str(helper), registry, env) if helper else None
    return found or _from_auths(config.get("auths") or {}, registry, path)


def _from_helper(helper: str, registry: str, env: Mapping[str, str]) -> Credentials | None:
    program = f"docker-credential-{helper}"
    try:
        done = subprocess.run([program, "get"], input=_server(registry), capture_output=True, text=True,
                              timeout=HELPER_TIMEOUT_S, env=dict(env), check=False)
    except FileNotFoundError:
        return None  # a config copied from another machine: fall back to the inline entry
    except subprocess.TimeoutExpired:
        raise RegistryError(f"{program} did not answer within {HELPER_TIMEOUT_S:g} s") from None
    if done.returncode != 0:
        return None  # "credentials not found in native keychain"
    try:
        answer: Any = json.loads(done.stdout)
        username, secret = str(answer["Username"]), str(answer["Secret"])
    except (ValueError, KeyError, TypeError):
        raise RegistryError(f"{program} answered something that is not its JSON credentials") from None
    if username == "<token>":
        raise RegistryError(f"{program} holds an identity token for {registry}, which this stack cannot use: run "
                            f"`docker login {registry}` with a username and a personal access token")
    return Credentials(username, secret, program)


def _from_auths(auths: Mapping[str, Any], registry: str, path: Path) -> Credentials | None:
    for key, entry in auths.items():
        if not _matches(key, registry) or not isinstance(entry, dict):
            continue
        if entry.get("identitytoken"):
            raise RegistryError(f"{path} holds an identity token for {registry}, which this stack cannot use: run "
                                f"`docker login {registry}` with a username and a personal access token")
        if entry.get("auth"):
            try:
                username, _, secret = base64.b64decode(entry["auth"]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise RegistryError(f"{path}: the auth entry for {key} is not base64 of user:password") from None
            return Credentials(username, secret, str(path))
        if entry.get("username") and entry.get("password"):
            return Credentials(str(entry["username"]), str(entry["password"]), str(path))
    return None
