"""Image references, as Docker's distribution/reference grammar has them: the one place the stack reads a
repository (`ghcr.io/me/autoglm-vllm`) or a reference (`repo:tag`, `repo@sha256:…`). Pure rules."""

from __future__ import annotations

import re

__all__ = ["split_image_reference", "validate_image_reference", "validate_image_repository"]

# The distribution/reference grammar: an optional registry host[:port], then lowercase path components.
_REPO_RE = re.compile(
    r"^(?:(?P<host>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"(?::[0-9]+)?)/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def validate_image_repository(value: str) -> str | None:
    """None when `value` is a pushable repository (`ghcr.io/me/autoglm-vllm`), else what is wrong."""
    if "@" in value or (":" in value.rsplit("/", 1)[-1]):
        return "give the repository without a tag or digest (the stack tags and pins it)"
    if not _REPO_RE.match(value) or len(value) > 255:
        return "expected a repository like ghcr.io/OWNER/autoglm-vllm or docker.io/OWNER/autoglm-vllm (lowercase)"
    if "/" not in value:
        return "include the registry or namespace, e.g. docker.io/OWNER/" + value
    return None


def split_image_reference(value: str) -> tuple[str, str | None, str | None]:
    """`repo:tag@sha256:…` → (repository, tag or None, digest or None); ValueError saying what is wrong."""
    rest, _, digest = value.partition("@")
    if digest and not _DIGEST_RE.match(digest):
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
