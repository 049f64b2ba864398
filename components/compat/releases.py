"""What each vLLM release publishes as `vllm/vllm-openai` images: its tags, the CUDA each is built on (the
host's floor), the GPU architectures it has kernels for, and the transformers it pins.

Sources: ../shared/research/vllm-releases.md §1 and §3 (every release 0.12.0–0.33.0: its Dockerfile, release
pipeline and requirements), vllm_autoglm.md §2 (the floors before 0.12); the release list is PyPI's.
tests/test_releases.py restates each fact case by case. A version this table does not know is accepted with
a warning: `pulumi up` reads its floor from the image itself (components/registry), never from a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.compat.gpus import cc_tuple
from components.compat.versions import CudaFloor, Version, cuda_floor_of, parse_version

__all__ = ["ARCHITECTURES", "DEFAULT_TAGS", "FIRST_DETAILED", "RELEASES", "TRANSFORMERS_5_FROM", "TRANSFORMERS_PINS",
           "VARIANTS", "ImageTag", "TagFamily", "architecture_fix", "cuda_floor", "image_tag", "is_known",
           "published_tags", "runs_on", "ships_transformers_5", "split_tag", "tag_problem", "transformers_pin",
           "version_note"]

# Every vLLM release from 0.12.0 (the first that serves AutoGLM) to the newest this table was checked against.
RELEASES: tuple[str, ...] = (
    "0.12.0", "0.13.0", "0.14.0", "0.14.1", "0.15.0", "0.15.1", "0.16.0", "0.17.0", "0.17.1", "0.18.0", "0.18.1",
    "0.19.0", "0.19.1", "0.20.0", "0.20.1", "0.20.2", "0.21.0", "0.22.0", "0.22.1", "0.23.0", "0.24.0", "0.25.0",
    "0.25.1", "0.26.0", "0.27.0", "0.27.1", "0.28.0", "0.29.0", "0.30.0", "0.31.0", "0.32.0", "0.33.0",
)
FIRST_DETAILED: Version = (0, 12, 0)  # older versions are known by their floor only (no tag variants)
_LATEST: Version = parse_version(RELEASES[-1])


@dataclass(frozen=True)
class TagFamily:
    """Tags `v{version}{suffix}`, built on nvidia/cuda `cuda` and Ubuntu `ubuntu`, published for the releases
    from `first` to `last` (None: up to the next default row, or open for the last one)."""

    suffix: str
    first: Version
    last: Version | None
    cuda: str
    ubuntu: str
    about: str = ""


# The plain vX.Y.Z tag; each row holds until the next one begins. From 0.27.0 the Dockerfile's default CUDA is
# 13.0.3, but the release pipeline passes 13.0.2: same gate.
DEFAULT_TAGS: tuple[TagFamily, ...] = (
    TagFamily("", (0, 0, 0), None, "12.4.1", "22.04"),
    TagFamily("", (0, 9, 0), None, "12.8.1", "22.04"),
    TagFamily("", (0, 11, 1), None, "12.9.1", "22.04"),
    TagFamily("", (0, 20, 0), None, "13.0.2", "22.04", "CUDA 13 from 0.20 (vLLM PR #39878)"),
    TagFamily("", (0, 33, 0), None, "13.0.2", "24.04"),
)
# The other tags, each for a closed range of releases (0.33.0 has no CUDA 12.9 image at all).
VARIANTS: tuple[TagFamily, ...] = (
    TagFamily("-cu130", (0, 14, 0), (0, 19, 1), "13.0.1", "22.04", "CUDA 13 beside the CUDA 12.9 default"),
    TagFamily("-cu129", (0, 20, 0), (0, 32, 0), "12.9.1", "22.04", "CUDA 12.9 beside the CUDA 13 default"),
    TagFamily("-ubuntu2404", (0, 20, 2), (0, 32, 0), "13.0.2", "24.04", "the default on Ubuntu 24.04"),
    TagFamily("-cu129-ubuntu2404", (0, 20, 2), (0, 32, 0), "12.9.1", "24.04", "CUDA 12.9 on Ubuntu 24.04"),
    TagFamily("-efa", (0, 33, 0), (0, 33, 0), "13.0.2", "24.04", "with AWS EFA networking"),
    TagFamily("-x86_64-zstd", (0, 33, 0), (0, 33, 0), "13.0.2", "24.04", "zstd-compressed layers"),
)

# Compute capabilities the images are compiled for (torch_cuda_arch_list); a kernel for X.Y also runs on X.Z,
# Z ≥ Y. Blackwell (10.0, 12.0) from 0.9.2; from 0.20.0 no V100 (7.0), the -cu129 tags included.
ARCHITECTURES: tuple[tuple[Version, tuple[str, ...]], ...] = (
    ((0, 0, 0), ("7.0", "7.5", "8.0", "8.6", "8.9", "9.0")),
    ((0, 9, 2), ("7.0", "7.5", "8.0", "8.6", "8.9", "9.0", "10.0", "12.0")),
    ((0, 20, 0), ("7.5", "8.0", "8.6", "8.9", "9.0", "10.0", "12.0")),
)

# vLLM's own transformers requirement (requirements/common.txt). 0.19.0 still pins < 5; 0.19.1 is the first
# whose image carries transformers ≥ 5, which AutoGLM needs.
TRANSFORMERS_PINS: tuple[tuple[Version, str], ...] = (
    ((0, 12, 0), ">=4.56,<5"),
    ((0, 19, 1), "!=5.0.*,!=5.1.*,!=5.2.*,!=5.3.*,!=5.4.*,!=5.5.0"),
    ((0, 24, 0), ">=5.5.3"),
    ((0, 29, 0), ">=5.10.4"),
    ((0, 31, 0), "<5.18"),
    ((0, 32, 0), ">=5.16.1,<5.20"),
    ((0, 33, 0), ">=5.16.1,<5.21"),
)
TRANSFORMERS_5_FROM: Version = (0, 19, 1)


@dataclass(frozen=True)
class ImageTag:
    """One `vllm/vllm-openai` tag: a vLLM version and the family of its suffix."""

    version: str
    family: TagFamily

    @property
    def tag(self) -> str:
        return f"v{self.version}{self.family.suffix}"

    @property
    def floor(self) -> CudaFloor:
        return cuda_floor_of(self.family.cuda)


def split_tag(text: str) -> tuple[str, str]:
    """`v0.21.0-cu129` → (`0.21.0`, `-cu129`); ValueError when it does not start with a version."""
    body = text.strip().removeprefix("v")
    version, dash, suffix = body.partition("-")
    parse_version(version)
    if "+" in version or (dash and not suffix):
        raise ValueError(f"{text!r} is not a vllm/vllm-openai tag like 0.12.0 or 0.21.0-cu129")
    return version, dash + suffix


def is_known(version: str) -> bool:
    """A release this table describes (or older than its detailed range, known by its floor)."""
    return version in RELEASES or parse_version(version) < FIRST_DETAILED


def _default_family(v: Version) -> TagFamily:
    return [row for row in DEFAULT_TAGS if v >= row.first][-1]


def published_tags(version: str) -> list[ImageTag]:
    """The tags published for `version`: the default first, then the variants whose range holds it."""
    v = parse_version(version)
    families = [_default_family(v)] + [f for f in VARIANTS if f.first <= v <= (f.last or v)]
    return [ImageTag(version, f) for f in families]


def image_tag(text: str) -> ImageTag:
    """The tag `text` names; for a tag this table lacks, its best description (a known suffix keeps its CUDA)."""
    version, suffix = split_tag(text)
    for tag in published_tags(version):
        if tag.family.suffix == suffix:
            return tag
    family = next((f for f in VARIANTS if f.suffix == suffix), _default_family(parse_version(version)))
    return ImageTag(version, family)


def cuda_floor(vllm_version: str) -> CudaFloor:
    """The CUDA floor of `vllm/vllm-openai:v{vllm_version}` as this table knows it (what preview uses)."""
    return image_tag(vllm_version).floor


def _listing(tags: list[ImageTag]) -> str:
    return ", ".join(f"{t.tag} (CUDA {t.floor.cuda})" for t in tags)


def tag_problem(text: str) -> tuple[str, str] | None:
    """(what is wrong, the fix) when a release this table knows has no such tag; None otherwise."""
    version, suffix = split_tag(text)
    if not is_known(version) or any(t.family.suffix == suffix for t in published_tags(version)):
        return None
    tags = published_tags(version)
    message = f"vllm/vllm-openai:v{version}{suffix} is not published; the tags of {version} are {_listing(tags)}."
    family = next((f for f in VARIANTS if f.suffix == suffix), None)
    if family is not None and family.last is not None:
        message += (f" {suffix} tags exist for {'.'.join(map(str, family.first))}–"
                    f"{'.'.join(map(str, family.last))} only.")
    fix = "set vllmVersion to one of " + ", ".join(t.tag[1:] for t in tags) + \
        " (`python -m components.compat --vllm VERSION` lists each release's tags)."
    return message, fix


def version_note(text: str) -> str | None:
    """The warning for a version this table does not know: its floor will be read from the image."""
    version, _ = split_tag(text)
    if is_known(version):
        return None
    floor = cuda_floor(text).cuda
    where = "newer than" if parse_version(version) > _LATEST else "not a release in"
    return (f"vLLM {version} is {where} this stack's release table ({RELEASES[0]}–{RELEASES[-1]}): preview "
            f"assumes its image needs CUDA {floor}, a guess that is never sent to RunPod: `pulumi up` reads the "
            "floor from the image's own NVIDIA_REQUIRE_CUDA before the pod is created. Check that the tag exists "
            "and add the release to components/compat/releases.py.")


def architectures(version: str) -> tuple[str, ...]:
    v = parse_version(version)
    return [ccs for first, ccs in ARCHITECTURES if v >= first][-1]


def _covers(ccs: tuple[str, ...], cc: str) -> bool:
    gpu = cc_tuple(cc)
    return any(cc_tuple(a)[0] == gpu[0] and cc_tuple(a)[1] <= gpu[1] for a in ccs)


def runs_on(version: str, cc: str) -> bool:
    """Whether `version`'s images have kernels for a GPU of compute capability `cc`."""
    return _covers(architectures(version), cc)


def architecture_fix(version: str, cc: str) -> str:
    """Which vLLM versions do have kernels for `cc`, as a fix."""
    v = parse_version(version)
    later = [first for first, ccs in ARCHITECTURES if first > v and _covers(ccs, cc)]
    if later:
        return f"use vLLM {'.'.join(map(str, later[0]))} or newer, or another GPU."
    dropped = next((first for first, ccs in ARCHITECTURES if first <= v and not _covers(ccs, cc)
                    and any(_covers(older, cc) for start, older in ARCHITECTURES if start < first)), None)
    earlier = [r for r in RELEASES if dropped and parse_version(r) < dropped]
    if earlier:
        return f"use vLLM {earlier[-1]} or older, or another GPU."
    return "choose another GPU (`python -m components.compat --list`)."


def transformers_pin(version: str) -> str | None:
    """vLLM's own transformers requirement for `version`; None outside the table's detailed range."""
    if not is_known(version):
        return None
    v = parse_version(version)
    pins = [pin for first, pin in TRANSFORMERS_PINS if v >= first]
    return pins[-1] if pins else None


def ships_transformers_5(version: str) -> bool:
    """Whether `version`'s image already holds transformers ≥ 5 (so the build needs no override)."""
    return parse_version(version) >= TRANSFORMERS_5_FROM
