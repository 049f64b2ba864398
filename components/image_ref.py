"""Image references, as Docker's distribution/reference grammar has them: the one place the stack reads a
repository (`ghcr.io/me/autoglm-vllm`) or a reference (`repo:tag`, `repo@sha256:…`). Pure rules."""

from __future__ import annotations

import re

__all__ = ["DIGEST_RE", "PLATFORM_RE", "private_by_default", "registry_host", "split_image_reference",
           "validate_image_reference", "validate_image_repository"]

# The distribution/reference grammar: an optional registry host[:port], then lowercase path components.
_REPO_RE = re.compile(
    r"^(?:(?P<host>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"(?::[0-9]+)?)/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
PLATFORM_RE = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")  # os/arch[/variant], as buildx takes it
# Registries whose repositories anonymous pulls cannot read until someone opens them: (host pattern, why,
# how to open one). Docker Hub repositories are public unless made private.
_PRIVATE_BY_DEFAULT: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"^ghcr\.io$"), "GitHub makes a package private when it is first pushed",
     "make the package public (github.com → your profile → Packages → the package → Package settings → "
     "Change visibility → Public)"),
    (re.compile(r"^[0-9]+\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"),
     "Amazon ECR private repositories always need credentials", "use public.ecr.aws"),
    (re.compile(r"^[a-z0-9-]+\.azurecr\.io$"), "Azure Container Registry needs credentials unless anonymous "
     "pull is enabled", "enable anonymous pull"),
    (re.compile(r"^([a-z0-9-]+-docker\.pkg\.dev|([a-z]+\.)?gcr\.io)$"), "Google Artifact Registry needs "
     "credentials unless its repository grants allUsers read access",
     "grant allUsers the Artifact Registry Reader role"),
)


def _split_host(value: str) -> tuple[str | None, str]:
    """(registry host, path): the first component is a host when it has a dot or a port or is localhost, as
    Docker reads it; `acme/autoglm` is a path on Docker Hub."""
    first, slash, rest = value.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return None, value


def registry_host(reference: str) -> str:
    """The registry an image or repository lives on, lowercased: `ghcr.io`, or `docker.io` when none is named."""
    host, _ = _split_host(reference)
    return (host or "docker.io").lower()


def private_by_default(reference: str) -> tuple[str, str] | None:
    """(why, how to open it) when `reference` is on a registry whose repositories anonymous pulls cannot read
    by default, as RunPod's hosts pull without a registryAuthId; None otherwise."""
    host = registry_host(reference)
    return next(((why, fix) for pattern, why, fix in _PRIVATE_BY_DEFAULT if pattern.match(host)), None)


def validate_image_repository(value: str) -> str | None:
    """None when `value` is a pushable repository (`ghcr.io/me/autoglm-vllm`), else what is wrong."""
    if "@" in value or (":" in value.rsplit("/", 1)[-1]):
        return "give the repository without a tag or digest (the stack tags and pins it)"
    _, path = _split_host(value)
    capitals = [part for part in path.split("/") if part != part.lower()]
    if capitals and _REPO_RE.match(value.lower()):
        named = " and ".join(repr(part) for part in capitals)
        return (f"{named} {'has' if len(capitals) == 1 else 'have'} capital letters, and repository paths are "
                f"lowercase only: use {value.lower()!r} (GitHub and Docker Hub take your account name in lowercase)")
    if not _REPO_RE.match(value) or len(value) > 255:
        return ("expected a repository like docker.io/yourname/autoglm-vllm or ghcr.io/yourname/autoglm-vllm "
                "(lowercase)")
    if "/" not in value:
        return "include the registry or namespace, e.g. docker.io/yourname/" + value
    return None


def split_image_reference(value: str) -> tuple[str, str | None, str | None]:
    """`repo:tag@sha256:…` → (repository, tag or None, digest or None); ValueError saying what is wrong."""
    rest, _, digest = value.partition("@")
    if digest and not DIGEST_RE.match(digest):
        raise ValueError("a digest must be sha256: followed by 64 lowercase hex digits")
    repo, tag = rest, None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = rest.rsplit(":", 1)
        if not _TAG_RE.match(tag):
            raise ValueError(f"{tag!r} is not a valid tag")
    if not _REPO_RE.match(repo):
        raise ValueError("expected an image reference like vllm/vllm-openai:v0.12.0 or REPO@sha256:<digest>")
    return repo, tag, digest or None


def validate_image_reference(value: str) -> str | None:
    """None when `value` is an image reference (`repo:tag`, `repo@sha256:…` or both), else what is wrong."""
    try:
        split_image_reference(value)
    except ValueError as e:
        return str(e)
    return None
