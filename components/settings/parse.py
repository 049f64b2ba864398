"""`parse_settings`: raw config strings in, validated `Settings` out. Pure: no Pulumi engine needed.

One reader per group of keys (the model, where the pod runs, where the image comes from, how it is served),
then the rules between keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlparse

from components import compat, setting_rules
from components.image_ref import validate_image_reference, validate_image_repository
from components.names import PROJECT
from components.runpod.credentials import DEFAULT_API_URL, is_loopback
from components.settings.cache import model_cache
from components.settings.errors import SettingsError
from components.settings.keys import check_keys, check_secrets
from components.settings.model import Cloud, Settings
from components.settings.serverless import check_deployment_keys, deployment, serverless
from components.settings.values import Raw, pattern
from components.stack_config import DEFAULTS

__all__ = ["parse_settings"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$")
_STACK_REF_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$")


def parse_settings(values: Mapping[str, str | None], stack: str) -> Settings:
    """Raw config strings (keys without the project prefix, absent = unset) → validated `Settings`."""
    check_keys({k: v for k, v in values.items() if v is not None})
    raw = Raw(values)
    check_secrets(raw)
    model = _model(raw)
    settings = Settings(stack=stack, **model, **_placement(raw, model["model"]), **_image(raw), **_serving(raw),
                        deployment=deployment(raw), serverless=serverless(raw))
    check_deployment_keys(raw, settings.deployment, settings.serverless)
    _check_image_source(settings, raw)
    _check_key_choice(settings, raw)
    return settings


def _model(raw: Raw) -> dict[str, Any]:
    try:
        vllm_version = setting_rules.vllm_version(raw.text("vllmVersion") or DEFAULTS["vllmVersion"])
    except ValueError as e:
        raise SettingsError("vllmVersion", raw.get("vllmVersion"), f"{e}.") from None
    return {
        "vllm_version": vllm_version,
        "model": raw.checked("model", setting_rules.model_id_problem) or DEFAULTS["model"],
        "served_model_name": raw.checked("servedModelName", pattern(
            _NAME_RE, "expected a name without spaces, up to 128 characters")) or DEFAULTS["servedModelName"],
        "max_model_len": raw.whole("maxModelLen"),
    }


def _placement(raw: Raw, model: str) -> dict[str, Any]:
    network_volume_id = raw.checked("networkVolumeId",
                                    pattern(_ID_RE, "expected a RunPod network volume id (letters and digits)"))
    cache = model_cache(raw, network_volume_id)
    disk = raw.whole("containerDiskGb") if raw.is_set("containerDiskGb") else \
        compat.default_container_disk_gb(compat.model_spec(model), bool(network_volume_id or cache))
    return {"gpu_types": _gpu_types(raw), "gpu_count": raw.whole("gpuCount"),
            "cloud": _cloud(raw, "networkVolumeId" if network_volume_id else "modelCacheGb" if cache else None),
            "container_disk_gb": disk, "network_volume_id": network_volume_id, "model_cache": cache,
            "running": raw.flag("running")}


def _image(raw: Raw) -> dict[str, Any]:
    return {
        "image_repository": raw.checked("imageRepository", validate_image_repository),
        "image": raw.checked("image", validate_image_reference),
        "registry_auth_id": raw.checked("registryAuthId",
                                        pattern(_ID_RE, "expected a RunPod container registry credential id")),
        "promote_from": raw.checked("promoteFrom", pattern(
            _STACK_REF_RE, "expected a stack name such as dev or organization/autoglm-runpod/dev")),
    }


def _serving(raw: Raw) -> dict[str, Any]:
    return {
        "health_timeout_minutes": raw.whole("healthTimeoutMinutes"),
        "max_cost_per_hour": raw.dollars("maxCostPerHour"),
        # No schema default: unset, the providers fall back to env RUNPOD_API_URL, then to RunPod's URL.
        "runpod_api_url": (raw.checked("runpodApiUrl", _url) or DEFAULT_API_URL).rstrip("/"),
        "public_endpoint": raw.flag("publicEndpoint"),
    }


def _gpu_types(raw: Raw) -> tuple[str, ...]:
    how = ("set it with `pulumi config set --path 'gpuTypes[0]' 'NVIDIA L40S'` (ids or aliases, in order of "
           "preference; auto, alone or last, adds every other type that fits, cheapest first).")
    text = raw.text("gpuTypes")
    if text is None:
        raise SettingsError("gpuTypes", None, "it is required: " + how)
    names: Any
    try:
        names = json.loads(text)
    except json.JSONDecodeError:
        names = text.split(",")
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise SettingsError("gpuTypes", text, "expected a non-empty list of GPU type names; " + how)
    resolved: list[str] = []
    for position, name in enumerate(names, start=1):
        if name.strip().lower() == compat.AUTO:
            if position != len(names):
                raise SettingsError("gpuTypes", text, "auto may only come last (after the GPU types you prefer, "
                                    "if any): it adds every other type that fits, cheapest first.")
            resolved.append(compat.AUTO)
            continue
        try:
            gpu = compat.resolve_gpu_type(name)
        except compat.UnknownGpuType as e:
            hint = f" Did you mean {', '.join(repr(s) for s in e.suggestions)}?" if e.suggestions else ""
            raise SettingsError("gpuTypes", text, f"{name!r} is not a RunPod GPU type.{hint} "
                                "`python -m components.compat --list` lists them.") from None
        if gpu.id not in resolved:
            resolved.append(gpu.id)
    return tuple(resolved)


def _cloud(raw: Raw, volume_key: str | None) -> Cloud:
    cloud = raw.choice("cloud", ("SECURE", "COMMUNITY"))
    if volume_key and (problem := compat.network_volume_problem(cloud)):
        raise SettingsError("cloud", raw.get("cloud"), f"{problem}; use SECURE or unset {volume_key}.")
    return cast(Cloud, cloud)


def _url(value: str) -> str | None:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query or parsed.fragment:
        return "expected an http(s) base URL such as https://api.runpod.io"
    if parsed.scheme == "http" and not is_loopback(parsed.hostname or ""):
        # The RunPod key travels in every request's Authorization header.
        return "use https: plain http would send the RunPod API key in clear (http is only for 127.0.0.1)"
    return None


def _check_key_choice(s: Settings, raw: Raw) -> None:
    if s.public_endpoint and raw.get("vllmApiKey"):
        raise SettingsError("publicEndpoint", raw.get("publicEndpoint"), f"it conflicts with {PROJECT}:vllmApiKey: "
                            "a public endpoint has no key. Unset one of them (`pulumi config rm vllmApiKey` or "
                            "`pulumi config rm publicEndpoint`).")


_IMAGE_SOURCES = {"imageRepository": "image_repository", "image": "image", "promoteFrom": "promote_from"}


def _check_image_source(s: Settings, raw: Raw) -> None:
    """Exactly one way to get the image: build it (imageRepository), take it (image) or promote it."""
    given = [key for key, attr in _IMAGE_SOURCES.items() if getattr(s, attr)]
    if not given:
        raise SettingsError("imageRepository", None, "set where the built image is pushed (e.g. "
                            "docker.io/yourname/autoglm-vllm), or set image to a ready image, or promoteFrom to a "
                            "stack whose verified image to deploy.")
    if len(given) > 1:
        raise SettingsError(given[1], raw.get(given[1]), f"it conflicts with {PROJECT}:{given[0]}: the image "
                            "comes from one of imageRepository (build), image (ready) or promoteFrom; unset the other.")
    if s.promote_from and _names_this_stack(s.promote_from, s.stack):
        other = "" if s.stack == "dev" else ", e.g. dev"
        raise SettingsError("promoteFrom", s.promote_from, f"a stack cannot promote from itself ({s.stack}). Name "
                            f"another stack, the one that built and verified the image{other}; or, to build the "
                            "image on this stack, unset promoteFrom (`pulumi config rm promoteFrom`) and set "
                            "imageRepository.")


def _names_this_stack(promote_from: str, stack: str) -> bool:
    """`dev`, `autoglm-runpod/dev` and `ORG/autoglm-runpod/dev` all name stack dev of this project."""
    *prefix, name = promote_from.split("/")
    return name == stack and (not prefix or prefix[-1] == PROJECT)
