"""Typed, validated stack settings read from Pulumi config (namespace `autoglm-runpod`).

`parse_settings` is pure: raw config strings in, an immutable `Settings` out, or a `SettingsError` that names
the full key, the value (never a secret's) and what is allowed. `load_settings` reads the live Pulumi config.
The keys, defaults and secret keys are in `components/stack_config.py` (no Pulumi import, for the commands).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import urlparse

import pulumi

from components import compat, setting_rules, tuning
from components.image_ref import validate_image_reference, validate_image_repository
from components.names import PROJECT
from components.runpod.credentials import DEFAULT_API_URL, is_loopback
from components.stack_config import DEFAULTS, KEYS, SECRET_KEYS

Cloud = Literal["SECURE", "COMMUNITY"]


class SettingsError(pulumi.RunError):
    """A bad setting. A RunError, so the Pulumi CLI prints the message without a Python traceback."""

    def __init__(self, key: str, value: str | None, allowed: str, *, hide_value: bool = False) -> None:
        self.key = f"{PROJECT}:{key}"
        if key in SECRET_KEYS or hide_value:
            shown = "(secret)" if key in SECRET_KEYS else "(value not shown)"
        else:
            shown = "(not set)" if value is None else repr(value)
        super().__init__(f"{self.key} = {shown} is not valid: {allowed}")


@dataclass(frozen=True)
class Settings:
    stack: str
    gpu_types: tuple[str, ...]  # RunPod GPU type ids, aliases resolved, in order of preference
    gpu_count: int
    cloud: Cloud
    vllm_version: str
    model: str
    served_model_name: str
    max_model_len: int
    container_disk_gb: int
    network_volume_id: str | None
    image_repository: str | None
    image: str | None
    registry_auth_id: str | None
    health_timeout_minutes: int
    max_cost_per_hour: float | None
    promote_from: str | None
    runpod_api_url: str
    public_endpoint: bool
    running: bool

    @property
    def cuda_floor(self) -> compat.CudaFloor:
        return compat.cuda_floor(self.vllm_version)

    @property
    def base_image(self) -> str:
        return f"vllm/vllm-openai:v{self.vllm_version}"

    @property
    def image_source(self) -> Literal["build", "given", "promoted"]:
        if self.promote_from:
            return "promoted"
        return "given" if self.image else "build"


@dataclass(frozen=True)
class Secrets:
    """Secret settings as secret Outputs (None when unset). The RunPod key is read by the pod provider itself."""

    hf_token: pulumi.Output[str] | None
    vllm_api_key: pulumi.Output[str] | None


# ---- value rules: each returns the parsed value or raises SettingsError -------------------------------------

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$")
_STACK_REF_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$")
# The image's start script writes the key into nginx's configuration (docker/start.sh, same rule), so it must be
# an RFC 6750 bearer token (b64token): nothing nginx would read as syntax ($, quotes, spaces, ;, braces, \).
_BEARER_TOKEN_RE = re.compile(r"[A-Za-z0-9._~+/-]+=*")


def _text(key: str, raw: str | None) -> str | None:
    if raw is None:
        return None
    value = raw.strip()
    if not value:
        raise SettingsError(key, raw, "it is empty; remove it (`pulumi config rm " + key + "`) or give a value.")
    return value


def _int(key: str, raw: str) -> int:
    try:
        return setting_rules.whole_number(key, raw)
    except ValueError as e:
        raise SettingsError(key, raw, f"{e}.") from None


def _bool(key: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered not in ("true", "false"):
        raise SettingsError(key, raw, "expected true or false.")
    return lowered == "true"


def _gpu_types(raw: str | None) -> tuple[str, ...]:
    how = "set it with `pulumi config set --path 'gpuTypes[0]' 'NVIDIA L40S'` (ids or aliases, in order of preference)."
    if raw is None:
        raise SettingsError("gpuTypes", None, "it is required: " + how)
    names: Any
    try:
        names = json.loads(raw)
    except json.JSONDecodeError:
        names = [n for n in raw.split(",")]
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise SettingsError("gpuTypes", raw, "expected a non-empty list of GPU type names; " + how)
    resolved: list[str] = []
    for name in names:
        try:
            gpu = compat.resolve_gpu_type(name)
        except compat.UnknownGpuType as e:
            hint = f" Did you mean {', '.join(repr(s) for s in e.suggestions)}?" if e.suggestions else ""
            raise SettingsError("gpuTypes", raw, f"{name!r} is not a RunPod GPU type.{hint} "
                                "`python -m components.compat --list` lists them.") from None
        if gpu.id not in resolved:
            resolved.append(gpu.id)
    return tuple(resolved)


def _checked(key: str, raw: str | None, rule: Callable[[str], str | None]) -> str | None:
    value = _text(key, raw)
    if value is not None:
        problem = rule(value)
        if problem:
            raise SettingsError(key, raw, problem + ".")
    return value


def _pattern(pattern: re.Pattern[str], allowed: str) -> Callable[[str], str | None]:
    return lambda value: None if pattern.match(value) else allowed


def _url(value: str) -> str | None:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query or parsed.fragment:
        return "expected an http(s) base URL such as https://api.runpod.io"
    if parsed.scheme == "http" and not is_loopback(parsed.hostname or ""):
        # The RunPod key travels in every request's Authorization header.
        return "use https: plain http would send the RunPod API key in clear (http is only for 127.0.0.1)"
    return None


def _cost(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        value = -1.0
    if not 0 < value <= 1000:
        raise SettingsError("maxCostPerHour", raw, "expected US dollars per hour, a number above 0 (e.g. 1.50).")
    return value


def _secret(key: str, raw: str | None) -> str | None:
    if raw is None:
        return None
    if not raw.strip() or raw != raw.strip():
        raise SettingsError(key, raw, "it is empty or has surrounding spaces; set it again with "
                            f"`pulumi config set --secret {key}`.")
    if key == "vllmApiKey" and len(raw) < 16:
        raise SettingsError(key, raw, "use at least 16 characters, or unset it to have the stack generate one.")
    if key == "vllmApiKey" and not _BEARER_TOKEN_RE.fullmatch(raw):
        raise SettingsError(key, raw, "nginx, which guards the server, holds the key in its configuration and "
                            "cannot hold quotes, $, spaces, newlines, backslashes, braces, semicolons and the like "
                            "safely. Use letters, digits and - . _ ~ + / (= only at the end), or unset it to have "
                            "the stack generate one.")
    return raw


# ---- the whole settings object ------------------------------------------------------------------------------

def check_keys(raw: Mapping[str, str | None]) -> None:
    """Refuse keys the stack does not read: a typo (`gpuType`) would otherwise be silently ignored."""
    for key in raw:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f" Did you mean {PROJECT}:{close[0]}?" if close else ""
            # The value is not shown: a mistyped secret key (`vllmApikey`) holds a secret.
            raise SettingsError(key, None, f"this stack has no such setting.{hint} See README.md, Configuration.",
                                hide_value=True)


def parse_settings(raw: Mapping[str, str | None], stack: str) -> Settings:
    """Raw config strings (keys without the project prefix, absent = unset) → validated `Settings`."""
    check_keys({k: v for k, v in raw.items() if v is not None})
    get = raw.get
    for key in SECRET_KEYS:
        _secret(key, get(key))
    vllm_version = _vllm_version(get("vllmVersion"))
    model = _checked("model", get("model"), setting_rules.model_id_problem) or DEFAULTS["model"]
    network_volume_id = _checked("networkVolumeId", get("networkVolumeId"),
                                 _pattern(_ID_RE, "expected a RunPod network volume id (letters and digits)"))
    cloud = _cloud(get("cloud"), network_volume_id)
    spec = compat.model_spec(model)
    disk_raw = _text("containerDiskGb", get("containerDiskGb"))
    container_disk_gb = _int("containerDiskGb", disk_raw) if disk_raw else \
        compat.default_container_disk_gb(spec, bool(network_volume_id))
    settings = Settings(
        stack=stack,
        gpu_types=_gpu_types(_text("gpuTypes", get("gpuTypes"))),
        gpu_count=_int("gpuCount", get("gpuCount") or str(DEFAULTS["gpuCount"])),
        cloud=cloud,
        vllm_version=vllm_version,
        model=model,
        served_model_name=_checked("servedModelName", get("servedModelName"), _pattern(
            _NAME_RE, "expected a name without spaces, up to 128 characters")) or DEFAULTS["servedModelName"],
        max_model_len=_int("maxModelLen", get("maxModelLen") or str(DEFAULTS["maxModelLen"])),
        container_disk_gb=container_disk_gb,
        network_volume_id=network_volume_id,
        image_repository=_checked("imageRepository", get("imageRepository"), validate_image_repository),
        image=_checked("image", get("image"), validate_image_reference),
        registry_auth_id=_checked("registryAuthId", get("registryAuthId"),
                                  _pattern(_ID_RE, "expected a RunPod container registry credential id")),
        health_timeout_minutes=_int("healthTimeoutMinutes",
                                    get("healthTimeoutMinutes") or str(DEFAULTS["healthTimeoutMinutes"])),
        max_cost_per_hour=_cost(raw_cost) if (raw_cost := _text("maxCostPerHour", get("maxCostPerHour"))) else None,
        promote_from=_checked("promoteFrom", get("promoteFrom"), _pattern(
            _STACK_REF_RE, "expected a stack name such as dev or organization/autoglm-runpod/dev")),
        # No schema default: unset, the pod provider falls back to env RUNPOD_API_URL, then to RunPod's URL.
        runpod_api_url=(_checked("runpodApiUrl", get("runpodApiUrl"), _url) or DEFAULT_API_URL).rstrip("/"),
        public_endpoint=_bool("publicEndpoint", get("publicEndpoint") or "false"),
        running=_bool("running", get("running") or "true"),
    )
    _check_image_source(settings, raw)
    _check_key_choice(settings, raw)
    return settings


def _vllm_version(raw: str | None) -> str:
    try:
        return setting_rules.vllm_version(_text("vllmVersion", raw) or DEFAULTS["vllmVersion"])
    except ValueError as e:
        raise SettingsError("vllmVersion", raw, f"{e}.") from None


def _cloud(raw: str | None, network_volume_id: str | None) -> Cloud:
    cloud = (_text("cloud", raw) or DEFAULTS["cloud"]).upper()
    if cloud not in ("SECURE", "COMMUNITY"):
        raise SettingsError("cloud", raw, "expected SECURE or COMMUNITY.")
    if network_volume_id and (problem := compat.network_volume_problem(cloud)):
        raise SettingsError("cloud", raw, f"{problem}; use SECURE or unset networkVolumeId.")
    return cast(Cloud, cloud)


def _check_key_choice(s: Settings, raw: Mapping[str, str | None]) -> None:
    if s.public_endpoint and raw.get("vllmApiKey"):
        raise SettingsError("publicEndpoint", raw.get("publicEndpoint"), f"it conflicts with {PROJECT}:vllmApiKey: "
                            "a public endpoint has no key. Unset one of them (`pulumi config rm vllmApiKey` or "
                            "`pulumi config rm publicEndpoint`).")


def _check_image_source(s: Settings, raw: Mapping[str, str | None]) -> None:
    """Exactly one way to get the image: build it (imageRepository), take it (image) or promote it."""
    given = [k for k in ("imageRepository", "image", "promoteFrom") if getattr(s, _attr(k))]
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


class PlanError(pulumi.RunError):
    """The settings are each valid but cannot work together (compatibility rules)."""

    def __init__(self, problems: list[compat.Problem]) -> None:
        self.problems = problems
        lines = [f"- {PROJECT}:{p.setting}: {p.message} Fix: {p.fix}" for p in problems]
        super().__init__("this stack's settings cannot work; nothing was created:\n" + "\n".join(lines))


class TuningSettingError(pulumi.RunError):
    """A timing variable (components/tuning.py) the providers would only fail on in the middle of a wait."""


def preflight(s: Settings) -> None:
    """Before anything is registered: the timing variables of the shell that runs Pulumi (TuningSettingError),
    then the compatibility rules on the settings (PlanError, listing every problem with its fix). A vLLM
    version the table does not know passes with a warning: its floor is then read from the image."""
    try:
        tuning.check()
    except tuning.TuningError as e:
        raise TuningSettingError(f"{e}. The variable comes from the shell that runs pulumi; nothing was "
                                 "created.") from None
    if note := compat.version_note(s.vllm_version):
        pulumi.log.warn(f"{PROJECT}:vllmVersion = {s.vllm_version!r}: {note}")
    problems = compat.check_plan(s.vllm_version, s.gpu_types, s.gpu_count, s.model, s.max_model_len,
                                 s.container_disk_gb, bool(s.network_volume_id))
    if problems:
        raise PlanError(problems)


def _attr(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _raw_config() -> dict[str, str | None]:
    prefix = f"{PROJECT}:"
    present = {k.removeprefix(prefix) for k in pulumi.runtime.config.get_config_env() if k.startswith(prefix)}
    present |= {k.removeprefix(prefix) for k in pulumi.runtime.config.CONFIG.get() if k.startswith(prefix)}
    return {k: pulumi.runtime.get_config(prefix + k) for k in sorted(present | set(KEYS))}


def outside_pulumi() -> str | None:
    """Why the program cannot run here, or None when a Pulumi engine (or the tests' mocks) drives it: run as
    `python __main__.py`, no engine is there to read the stack's config from."""
    if pulumi.runtime.settings.get_monitor() is not None:
        return None
    return (f"{PROJECT}: this is a Pulumi program, not a script; it reads its stack's settings from the Pulumi "
            "engine. Run it with `pulumi preview` or `pulumi up` (e.g. `pulumi up -s dev`) from this directory: "
            "README.md, Quick start.")


def load_settings() -> tuple[Settings, Secrets]:
    """Read and validate the current stack's config; raises SettingsError before any resource is registered."""
    raw = _raw_config()
    settings = parse_settings(raw, pulumi.get_stack())
    return settings, Secrets(hf_token=_secret_output(raw.get("hfToken")),
                             vllm_api_key=_secret_output(raw.get("vllmApiKey")))


def _secret_output(value: str | None) -> pulumi.Output[str] | None:
    return pulumi.Output.secret(value) if value else None
