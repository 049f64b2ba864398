"""`pulumi-python:dynamic/registry:ImageFacts`: what the image itself declares, read from its registry at
`pulumi up`, before the pod or serverless endpoint that runs it is created (components/registry).

Its `cuda_floor` is the image's own `NVIDIA_REQUIRE_CUDA` gate, which is what the pod sends RunPod as
`gpu.minCudaVersion`: where it disagrees with the compatibility table (`table_cuda_floor`), the image wins and
the deploy log says so. On the way it checks that RunPod can pull the image (anonymously, or `registryAuthId`
is set). Any failure stops the deploy here, so no pod is billed for an image it could not run. Preview reads
nothing (the built image's reference is not known then): there the table's floor stands in for the image's.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from components.image_ref import PLATFORM_RE, validate_image_reference
from components.names import setting
from components.providers.checks import check_cuda, check_optional_text
from components.providers.schema import Schema, spec_field
from components.registry import ImageFacts as Facts
from components.registry import NotFound, RateLimited, RegistryError, Unavailable, inspect_image

__all__ = ["FACTS_INPUTS", "FACTS_TYPE", "ImageFacts", "ImageFactsArgs", "ImageFactsError", "ImageFactsProvider",
           "ImageFactsSpec"]

FACTS_TYPE = "pulumi-python:dynamic/registry:ImageFacts"


class ImageFactsError(RuntimeError):
    """The image's config could not be read, or RunPod could not pull it: the message says what to do."""


def _image_problem(v: Any) -> str | None:
    problem = validate_image_reference(v) if isinstance(v, str) else "must be a string"
    return f"must be an image reference ({problem})" if problem else None


def _platform_problem(v: Any) -> str | None:
    return None if isinstance(v, str) and PLATFORM_RE.match(v) else "must be an os/arch pair such as linux/amd64"


@dataclass(frozen=True)
class ImageFactsSpec:
    """The inputs, declared once (see components/providers/schema.py)."""

    image: str = spec_field(_image_problem, convert=str)
    platform: str = spec_field(_platform_problem, convert=str, default="linux/amd64")
    registry_auth_id: str | None = spec_field(check_optional_text, convert=str, setting=setting("registryAuthId"),
                                              default=None)
    vllm_version: str | None = spec_field(check_optional_text, convert=str, setting=setting("vllmVersion"),
                                          default=None)
    table_cuda_floor: str | None = spec_field(check_cuda, convert=str, setting=setting("vllmVersion"),
                                              default=None)


FACTS_INPUTS: Schema[ImageFactsSpec] = Schema(ImageFactsSpec)


def _log(spec: ImageFactsSpec, facts: Facts) -> None:
    cuda = facts.cuda
    declared = f"{spec.image} declares {cuda.source}" + (f" (CUDA {cuda.cuda_version})" if cuda.cuda_version else "")
    table = spec.table_cuda_floor
    if table is not None and table != cuda.floor:
        pulumi.log.warn(f"{declared}, but the compatibility table says CUDA {table} for vLLM {spec.vllm_version}: "
                        f"the image wins, so the pod requests hosts with CUDA ≥ {cuda.floor}, not {table}. "
                        "If the table is wrong, correct components/compat/releases.py.")
    else:
        pulumi.log.info(f"{declared}: the pod requests hosts with CUDA ≥ {cuda.floor}.")
    if not facts.anonymous_pull:
        pulumi.log.info(f"{spec.image} is not pullable anonymously: RunPod pulls it with registry credential "
                        f"{spec.registry_auth_id} ({setting('registryAuthId')}).")


def _advice(error: RegistryError) -> str:
    """What to do, for the failures whose registry message does not say it already."""
    if isinstance(error, NotFound):
        return (". Check that the image was pushed with that tag or digest; a registry that hides private images "
                f"behind 404 needs {setting('registryAuthId')}. Nothing was created.")
    if isinstance(error, RateLimited | Unavailable):
        return ". Nothing was created: run `pulumi up` again in a while."
    return ""


def _inspect(props: Mapping[str, Any]) -> dict[str, Any]:
    spec = FACTS_INPUTS.parse(props)
    try:
        facts = inspect_image(spec.image, platform=spec.platform, registry_auth_id=spec.registry_auth_id)
    except RegistryError as e:
        raise ImageFactsError(f"before anything runs it, reading {spec.image} from its registry failed: {e}"
                              f"{_advice(e)}") from None
    _log(spec, facts)
    return {**FACTS_INPUTS.plain(spec), "cuda_floor": facts.cuda.floor, "min_driver": facts.cuda.min_driver,
            "require_cuda": facts.cuda.require_cuda, "cuda_version": facts.cuda.cuda_version,
            "anonymous_pull": facts.anonymous_pull, "manifest_digest": facts.config.manifest_digest,
            "config_digest": facts.config.config_digest}


class ImageFactsProvider(pulumi.dynamic.ResourceProvider):
    """Reads the image on create and whenever an input changes. Holds no state (pickled into the stack)."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs, failures = FACTS_INPUTS.check(news)
        if isinstance(inputs.get("table_cuda_floor"), str) and not failures:
            # A preview shows a resource's checked inputs as its outputs: the table's floor stands in for the
            # image's until `up` reads it (create and update return the image's own).
            inputs["cuda_floor"] = inputs["table_cuda_floor"]
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = FACTS_INPUTS.changed(olds, news)
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"image-facts-{secrets.token_hex(6)}", _inspect(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)  # a refresh does not read the registry: the digest pins what was read

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(_inspect(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # nothing exists outside the state


@dataclass
class ImageFactsArgs:
    """Inputs of `ImageFacts`; unset ones (None) take `ImageFactsSpec`'s defaults."""

    image: pulumi.Input[str]
    platform: pulumi.Input[str] | None = None
    registry_auth_id: pulumi.Input[str] | None = None
    vllm_version: pulumi.Input[str] | None = None
    table_cuda_floor: pulumi.Input[str] | None = None  # what the compatibility table expects, for the log


class ImageFacts(pulumi.dynamic.Resource, module="registry", name="ImageFacts"):
    """The image's own CUDA requirement and pullability, read before the pod. Outputs: the inputs plus these."""

    cuda_floor: pulumi.Output[str]
    min_driver: pulumi.Output[str | None]
    require_cuda: pulumi.Output[str | None]
    cuda_version: pulumi.Output[str | None]
    anonymous_pull: pulumi.Output[bool]
    manifest_digest: pulumi.Output[str]
    config_digest: pulumi.Output[str]

    def __init__(self, resource_name: str, args: ImageFactsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = FACTS_INPUTS.resource_props(args, ImageFacts.__annotations__)
        super().__init__(ImageFactsProvider(), resource_name, props, opts)
