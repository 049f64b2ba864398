"""Where an image reference points: registry, repository and tag or digest, normalized as Docker does it
(`vllm/vllm-openai` is `docker.io/vllm/vllm-openai`, `ubuntu` is `docker.io/library/ubuntu`)."""

from __future__ import annotations

from dataclasses import dataclass

from components.image_ref import split_image_reference
from components.runpod.credentials import is_loopback

__all__ = ["DOCKER_HUB", "ImageReference", "parse_reference", "same_image"]

DOCKER_HUB = "docker.io"
_DOCKER_HUB_API = "registry-1.docker.io"  # where docker.io's registry API answers


@dataclass(frozen=True)
class ImageReference:
    registry: str  # host[:port] as written, docker.io for Docker Hub
    repository: str  # the path inside the registry: acme/app, library/ubuntu
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        """What the manifest is fetched by: the digest when pinned, else the tag (Docker's default, latest)."""
        return self.digest or self.tag or "latest"

    @property
    def host(self) -> str:
        return self.registry.rsplit(":", 1)[0] if self.registry.count(":") == 1 else self.registry

    @property
    def api_url(self) -> str:
        """The registry API base: https, or plain http for a registry on this machine (as Docker allows)."""
        endpoint = _DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry
        scheme = "http" if is_loopback(self.host) else "https"
        return f"{scheme}://{endpoint}"

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.registry}/{self.repository}{tag}{digest}"


def parse_reference(text: str) -> ImageReference:
    """An image reference → where it points; ValueError saying what is wrong."""
    name, tag, digest = split_image_reference(text.strip())
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DOCKER_HUB, name
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    return ImageReference(registry, repository, tag, digest)


def same_image(a: str, b: str) -> bool:
    """Whether two references pull the same image: Docker Hub's spellings are one (`vllm/x`, `docker.io/vllm/x`,
    `index.docker.io/vllm/x`); when either is pinned, the digests decide (a pull by digest ignores the tag beside
    it); else the tags (`latest` when none). A reference that does not parse equals only itself."""
    if a == b:
        return True
    try:
        x, y = parse_reference(a), parse_reference(b)
    except ValueError:
        return False
    if (x.registry, x.repository) != (y.registry, y.repository):
        return False
    if x.digest or y.digest:
        return x.digest == y.digest
    return x.reference == y.reference
