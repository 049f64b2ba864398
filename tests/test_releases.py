"""The vLLM release table, checked case by case against the release facts (issue 14; the facts restated here
from the research on every release's Dockerfile, release pipeline and requirements, 0.12.0–0.33.0).

Facts:
- 0.12.0–0.13.0: only `vX.Y.Z`, CUDA 12.9.1 (`cuda>=12.9`, driver ≥ 575.51.03).
- 0.14.x–0.19.1: `vX.Y.Z` on CUDA 12.9.1, and `-cu130` on CUDA 13.0.1 (driver ≥ 580.65.06).
- 0.20.0–0.32.0: `vX.Y.Z` on CUDA 13.0.2, and `-cu129` on 12.9.1; from 0.20.2 also `-ubuntu2404` (13.0.2) and
  `-cu129-ubuntu2404` (12.9.1).
- 0.33.0: `vX.Y.Z` on CUDA 13.0.2 (Ubuntu 24.04); no `-cu129`; only `-efa` and `-x86_64-zstd` beside it.
- From 0.20.0 no kernels for sm_70 (V100). transformers: ≤ 0.19.0 pins `<5`; 0.19.1 is the first with ≥ 5.
"""

from __future__ import annotations

import io

import pytest

from components import compat
from components.compat.cli import main
from components.image import transformers_requirement

DRIVER = {"12.9": "575.51.03", "13.0": "580.65.06"}
BASE = {"": None, "-cu130": "13.0.1", "-cu129": "12.9.1", "-ubuntu2404": "13.0.2", "-cu129-ubuntu2404": "12.9.1",
        "-efa": "13.0.2", "-x86_64-zstd": "13.0.2"}

EXPECTED: dict[str, dict[str, str]] = {}  # release → {suffix: CUDA floor}
for _r in ("0.12.0", "0.13.0"):
    EXPECTED[_r] = {"": "12.9"}
for _r in ("0.14.0", "0.14.1", "0.15.0", "0.15.1", "0.16.0", "0.17.0", "0.17.1", "0.18.0", "0.18.1", "0.19.0",
           "0.19.1"):
    EXPECTED[_r] = {"": "12.9", "-cu130": "13.0"}
for _r in ("0.20.0", "0.20.1"):
    EXPECTED[_r] = {"": "13.0", "-cu129": "12.9"}
for _r in ("0.20.2", "0.21.0", "0.22.0", "0.22.1", "0.23.0", "0.24.0", "0.25.0", "0.25.1", "0.26.0", "0.27.0",
           "0.27.1", "0.28.0", "0.29.0", "0.30.0", "0.31.0", "0.32.0"):
    EXPECTED[_r] = {"": "13.0", "-cu129": "12.9", "-ubuntu2404": "13.0", "-cu129-ubuntu2404": "12.9"}
EXPECTED["0.33.0"] = {"": "13.0", "-efa": "13.0", "-x86_64-zstd": "13.0"}
ALL_SUFFIXES = tuple(BASE)


def test_the_table_knows_exactly_the_releases_from_0_12_to_0_33() -> None:
    assert list(compat.RELEASES) == list(EXPECTED)


@pytest.mark.parametrize("release", list(EXPECTED))
def test_every_release_publishes_exactly_its_tags_with_their_floor_and_driver(release: str) -> None:
    tags = compat.published_tags(release)
    assert {t.family.suffix: t.floor.cuda for t in tags} == EXPECTED[release]
    assert tags[0].tag == f"v{release}", "the plain tag comes first"
    for t in tags:
        assert t.floor.min_driver == DRIVER[t.floor.cuda]
        assert compat.cuda_floor(f"{release}{t.family.suffix}") == t.floor
        if BASE[t.family.suffix]:
            assert t.family.cuda == BASE[t.family.suffix]
        assert compat.check_plan(f"{release}{t.family.suffix}", ["L40S"], 1, "zai-org/AutoGLM-Phone-9B", 25480) == []


@pytest.mark.parametrize("release", list(EXPECTED))
@pytest.mark.parametrize("suffix", [s for s in ALL_SUFFIXES if s])
def test_a_tag_the_release_lacks_is_refused_listing_the_tags_it_has(release: str, suffix: str) -> None:
    problems = compat.check_plan(f"{release}{suffix}", ["L40S"], 1, "zai-org/AutoGLM-Phone-9B", 25480)
    if suffix in EXPECTED[release]:
        assert problems == []
        return
    (problem,) = problems
    assert problem.setting == "vllmVersion" and f"v{release}{suffix} is not published" in problem.message
    for other in EXPECTED[release]:
        assert f"v{release}{other} (CUDA {EXPECTED[release][other]})" in problem.message
        assert f"{release}{other}" in problem.fix


def test_default_base_images_per_range() -> None:
    assert compat.image_tag("0.19.1").family.cuda == "12.9.1" and compat.image_tag("0.12.0").family.ubuntu == "22.04"
    assert compat.image_tag("0.20.0").family.cuda == "13.0.2" and compat.image_tag("0.32.0").family.ubuntu == "22.04"
    assert compat.image_tag("0.33.0").family.cuda == "13.0.2" and compat.image_tag("0.33.0").family.ubuntu == "24.04"


def test_cu129_on_033_names_the_last_release_that_has_it() -> None:
    (problem,) = compat.check_plan("0.33.0-cu129", ["L40S"], 1, "zai-org/AutoGLM-Phone-9B", 25480)
    assert "-cu129 tags exist for 0.20.0–0.32.0 only" in problem.message


def test_an_r575_host_runs_at_most_v0_32_0_cu129() -> None:
    tags = [t for r in compat.RELEASES for t in compat.published_tags(r)]
    fits = [t.tag for t in tags if compat.cuda_at_least("12.9", t.floor.cuda)]
    assert fits[-2:] == ["v0.32.0-cu129", "v0.32.0-cu129-ubuntu2404"]
    assert not [t for t in compat.published_tags("0.33.0") if t.floor.cuda == "12.9"]


@pytest.mark.parametrize(("release", "v100"), [("0.12.0", True), ("0.19.1", True), ("0.20.0", False),
                                               ("0.20.0-cu129", False), ("0.33.0", False)])
def test_v100_kernels_end_at_0_20(release: str, v100: bool) -> None:
    assert compat.runs_on(release, "7.0") is v100
    problems = compat.check_plan(release, ["V100"], 1, "someone/other-model", 4096)
    assert (problems == []) is v100
    if not v100:
        assert problems[0].setting == "vllmVersion" and "no kernels for Tesla V100" in problems[0].message
        assert "use vLLM 0.19.1 or older" in problems[0].fix
    for cc in ("7.5", "8.0", "8.6", "8.9", "9.0", "10.0", "12.0"):
        assert compat.runs_on(release, cc)


@pytest.mark.parametrize(("release", "carries_5", "requirement"), [
    ("0.12.0", False, "transformers==5.0.0rc0"), ("0.18.1", False, "transformers==5.0.0rc0"),
    ("0.19.0", False, "transformers==5.0.0rc0"), ("0.19.1", True, "transformers>=5.5.1"),
    ("0.24.0", True, "transformers>=5.5.1"), ("0.33.0", True, "transformers>=5.5.1"),
])
def test_the_transformers_switch_is_at_0_19_1(release: str, carries_5: bool, requirement: str) -> None:
    assert compat.ships_transformers_5(release) is carries_5
    assert transformers_requirement(release) == requirement
    assert (compat.transformers_pin(release) or "").endswith(",<5") is not carries_5


@pytest.mark.parametrize("version", ["0.34.0", "0.34.0-cu129", "0.19.9", "1.0.0"])
def test_a_version_the_table_lacks_is_accepted_with_a_warning_never_silently(version: str) -> None:
    note = compat.version_note(version)
    assert note is not None and "read" in note and "NVIDIA_REQUIRE_CUDA" in note and "0.12.0–0.33.0" in note
    assert compat.check_plan(version, ["L40S"], 1, "zai-org/AutoGLM-Phone-9B", 25480) == []
    assert compat.transformers_pin(version) is None


def test_known_versions_carry_no_warning() -> None:
    assert [r for r in (*compat.RELEASES, "0.11.0", "0.9.2", "0.21.0-cu129") if compat.version_note(r)] == []


# ---- the command explains a release ---------------------------------------------------------------------------


def explain(version: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(["--vllm", version], out=out), out.getvalue()


@pytest.mark.parametrize("release", list(EXPECTED))
def test_the_command_lists_each_release_s_tags_floors_and_drivers(release: str) -> None:
    code, out = explain(release)
    assert code == 0, out
    rows = [line.split() for line in out.splitlines() if line.startswith("  v")]
    assert {row[0]: (row[2], row[3]) for row in rows} == {
        f"v{release}{suffix}": (cuda, DRIVER[cuda]) for suffix, cuda in EXPECTED[release].items()}
    assert "GPU types that fit zai-org/AutoGLM-Phone-9B" in out and "NVIDIA L40S" in out
    assert ("7.0" in out.split("GPU architectures")[1].splitlines()[0]) is (release < "0.20.0")


def test_the_command_explains_transformers_and_refuses_a_missing_tag() -> None:
    assert "the build installs transformers 5 over it" in explain("0.19.0")[1]
    assert "already carries transformers 5" in explain("0.19.1")[1]
    code, out = explain("0.33.0-cu129")
    assert code == 1 and "v0.33.0-cu129 is not published" in out


def test_the_command_warns_about_a_newer_version() -> None:
    code, out = explain("0.34.0")
    assert code == 0 and out.startswith("note: vLLM 0.34.0 is newer than this stack's release table")
    assert "assumed" in out


def test_the_command_lists_every_release() -> None:
    out = io.StringIO()
    assert main(["--releases"], out=out) == 0
    lines = out.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == list(EXPECTED)
    assert "v0.32.0-cu129 (CUDA 12.9)" in lines[-2] and "cu129" not in lines[-1]
