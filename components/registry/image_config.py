"""An image's config as its registry holds it: the manifest (through a multi-platform index or manifest list
to the platform's manifest, OCI and Docker media types alike) → the config blob → its environment.

Every document fetched by digest is checked against that digest, so what is read is what the pod will run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from components.registry.client import RegistryClient
from components.registry.errors import BadImage

__all__ = ["ACCEPT_MANIFESTS", "CONFIG_TYPES", "INDEX_TYPES", "MANIFEST_TYPES", "ImageConfig", "read_image_config"]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
CONFIG_TYPES = frozenset({"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"})
ACCEPT_MANIFESTS = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))


@dataclass(frozen=True)
class ImageConfig:
    manifest_digest: str  # the platform's image manifest (what a pull of this platform fetches)
    manifest_type: str
    config_digest: str
    env: dict[str, str]  # the config's Env, as the container starts with it
    index_type: str | None  # the multi-platform index it was chosen from, if any


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _json(body: bytes, what: str) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise BadImage(f"{what} is not a JSON object")
    return parsed


def _media_type(content_type: str, document: dict[str, Any]) -> str:
    declared = content_type.split(";")[0].strip()
    if declared in INDEX_TYPES | MANIFEST_TYPES:
        return declared
    if isinstance(document.get("mediaType"), str):
        return str(document["mediaType"])
    # OCI lets a document leave its mediaType out: its shape tells.
    return OCI_INDEX if "manifests" in document else OCI_MANIFEST if "config" in document else declared


def _fetch(client: RegistryClient, kind: str, reference: str, accept: str) -> tuple[bytes, str, str]:
    response = client.get(kind, reference, accept)
    body, digest = response.content, _digest(response.content)
    if reference.startswith("sha256:") and digest != reference:
        raise BadImage(f"{client.ref.registry}/{client.ref.repository}: the {kind[:-1]} fetched as {reference} "
                       f"has digest {digest}: refusing content that does not match its digest")
    return body, response.headers.get("Content-Type", ""), digest


def _platform_entry(index: dict[str, Any], platform: str, image: str) -> dict[str, Any]:
    os_name, _, arch = platform.partition("/")
    arch, _, variant = arch.partition("/")
    seen = []
    for entry in index.get("manifests") or []:
        if not isinstance(entry, dict):
            continue
        p = entry.get("platform") or {}
        if (entry.get("annotations") or {}).get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        seen.append("/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x))
        if p.get("os") == os_name and p.get("architecture") == arch and (not variant or p.get("variant") == variant):
            return dict(entry)
    raise BadImage(f"{image} has no {platform} image (its index lists {', '.join(seen) or 'nothing'}); RunPod "
                   "hosts are linux/amd64: build with --platform linux/amd64")


def read_image_config(client: RegistryClient, platform: str = "linux/amd64") -> ImageConfig:
    """The config of `client.ref` for `platform`; registry errors and `BadImage` say what went wrong."""
    image = str(client.ref)
    body, content_type, digest = _fetch(client, "manifests", client.ref.reference, ACCEPT_MANIFESTS)
    document = _json(body, f"the manifest of {image}")
    media, index_type = _media_type(content_type, document), None
    if media in INDEX_TYPES:
        index_type = media
        entry = _platform_entry(document, platform, image)
        body, content_type, digest = _fetch(client, "manifests", str(entry.get("digest")), ACCEPT_MANIFESTS)
        document = _json(body, f"the {platform} manifest of {image}")
        media = _media_type(content_type, document)
    if media not in MANIFEST_TYPES:
        raise BadImage(f"{image}: manifest type {media or 'unknown'} is not an OCI or Docker v2 image manifest "
                       "(schema 1 images are not supported: push the image again with a current Docker)")
    config: dict[str, Any] = document["config"] if isinstance(document.get("config"), dict) else {}
    config_digest = str(config.get("digest") or "")
    if config.get("mediaType") not in CONFIG_TYPES or not config_digest.startswith("sha256:"):
        raise BadImage(f"{image}: its manifest names no image config (config {config.get('mediaType')!r})")
    blob, _, _ = _fetch(client, "blobs", config_digest, "*/*")
    parsed = _json(blob, f"the config {config_digest} of {image}")
    _check_platform(parsed, platform, image)
    return ImageConfig(digest, media, config_digest, _env(parsed, image), index_type)


def _check_platform(config: dict[str, Any], platform: str, image: str) -> None:
    os_name, _, arch = platform.partition("/")
    actual = (config.get("os"), config.get("architecture"))
    if all(actual) and actual != (os_name, arch.partition("/")[0]):
        raise BadImage(f"{image} is a {actual[0]}/{actual[1]} image; RunPod hosts run {platform}: build with "
                       f"--platform {platform}")


def _env(config: dict[str, Any], image: str) -> dict[str, str]:
    inner = config.get("config") or {}
    entries = inner.get("Env") if isinstance(inner, dict) else None
    if entries is None:
        return {}
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise BadImage(f"{image}: the config's Env is not a list of strings")
    return dict(e.split("=", 1) if "=" in e else (e, "") for e in entries)
