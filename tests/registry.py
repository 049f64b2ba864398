"""A real registry on loopback for the tests: Debian's `docker-registry` (the distribution project's registry,
2.8), started with a temporary config on 127.0.0.1 and a free port, with token auth against
`tests/fakes/registry_token.py`. Images are pushed without Docker, through the distribution API (blob
uploads, then manifests by digest, then the tag), built here byte for byte so their digests are known
before any push: OCI or Docker media types, one platform or a multi-platform index (optionally with a
buildx-style attestation entry).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.fakes.registry_token import ISSUER, SERVICE, TokenService

REGISTRY_BINARY = "docker-registry"
OCI = {"index": "application/vnd.oci.image.index.v1+json", "manifest": "application/vnd.oci.image.manifest.v1+json",
       "config": "application/vnd.oci.image.config.v1+json", "layer": "application/vnd.oci.image.layer.v1.tar+gzip"}
DOCKER = {"index": "application/vnd.docker.distribution.manifest.list.v2+json",
          "manifest": "application/vnd.docker.distribution.manifest.v2+json",
          "config": "application/vnd.docker.container.image.v1+json",
          "layer": "application/vnd.docker.image.rootfs.diff.tar.gzip"}
CUDA_129_ENV = ("PATH=/usr/local/nvidia/bin:/usr/local/cuda/bin:/usr/bin:/bin", "CUDA_VERSION=12.9.1",
                "NVIDIA_REQUIRE_CUDA=cuda>=12.9 brand=unknown,driver>=535,driver<536 brand=tesla,driver>=535,"
                "driver<536", "NVIDIA_VISIBLE_DEVICES=all")
CUDA_130_ENV = ("PATH=/usr/local/cuda/bin:/usr/bin:/bin", "CUDA_VERSION=13.0.2",
                "NVIDIA_REQUIRE_CUDA=cuda>=13.0 brand=unknown,driver>=535,driver<536", "NVIDIA_VISIBLE_DEVICES=all")


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data), **extra}


def _document(media_type: str, doc: dict[str, Any]) -> Blob:
    return Blob(media_type, json.dumps(doc, separators=(",", ":")).encode())


@dataclass(frozen=True)
class OciImage:
    top: Blob  # what the tag names: an index, or the one manifest
    manifests: tuple[Blob, ...]  # platform manifests, pushed by digest before the top
    blobs: tuple[Blob, ...]  # configs and layers

    @property
    def digest(self) -> str:
        return self.top.digest


def _platform_manifest(env: Sequence[str], platform: str, types: dict[str, str], name: str,
                       config_data: bytes | None) -> tuple[Blob, list[Blob]]:
    os_name, arch = platform.split("/")[:2]
    layer = Blob(types["layer"], gzip.compress(f"layer of {name} for {platform}".encode(), mtime=0))
    config = Blob(types["config"], config_data if config_data is not None else json.dumps(
        {"architecture": arch, "os": os_name, "config": {"Env": list(env)},
         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer.data).hexdigest()]}},
        separators=(",", ":")).encode())
    manifest = _document(types["manifest"], {"schemaVersion": 2, "mediaType": types["manifest"],
                                             "config": config.descriptor(), "layers": [layer.descriptor()]})
    return manifest, [config, layer]


def cuda_image(env: Sequence[str] = CUDA_129_ENV, *, docker: bool = False,
               platforms: Sequence[str] = ("linux/amd64", "linux/arm64"), index: bool = True,
               attestation: bool = False, config_data: bytes | None = None, name: str = "test") -> OciImage:
    """A deterministic image whose config carries `env` (its digest is known before any push)."""
    types = DOCKER if docker else OCI
    manifests, blobs, entries = [], [], []
    for platform in platforms:
        manifest, parts = _platform_manifest(env, platform, types, name, config_data)
        manifests.append(manifest)
        blobs += parts
        os_name, arch = platform.split("/")[:2]
        entries.append(manifest.descriptor(platform={"architecture": arch, "os": os_name}))
    if attestation:  # what buildx adds beside each platform: not an image, skipped by readers
        manifest, parts = _platform_manifest([], "unknown/unknown", types, name + "-attestation", None)
        manifests.append(manifest)
        blobs += parts
        entries.append(manifest.descriptor(platform={"architecture": "unknown", "os": "unknown"}, annotations={
            "vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": entries[0]["digest"]}))
    if not index:
        return OciImage(manifests[0], (), tuple(blobs[:2]))
    top = _document(types["index"], {"schemaVersion": 2, "mediaType": types["index"], "manifests": entries})
    return OciImage(top, tuple(manifests), tuple(blobs))


@dataclass
class LocalRegistry:
    tokens: TokenService
    workdir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def log(self) -> str:
        path = self.workdir / "registry.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def push(self, repository: str, image: OciImage, tag: str | None = "latest") -> str:
        """Push every blob and manifest of `image`, then tag it; returns its digest."""
        headers = {"Authorization": f"Bearer {self.tokens.push_token(repository)}"}
        for blob in image.blobs:
            started = requests.post(f"{self.url}/v2/{repository}/blobs/uploads/", headers=headers, timeout=10)
            assert started.status_code == 202, started.text
            done = requests.put(started.headers["Location"], params={"digest": blob.digest}, data=blob.data,
                                headers={**headers, "Content-Type": "application/octet-stream"}, timeout=10)
            assert done.status_code == 201, done.text
        for document, reference in [*((m, m.digest) for m in image.manifests), (image.top, tag or image.digest)]:
            put = requests.put(f"{self.url}/v2/{repository}/manifests/{reference}", data=document.data,
                               headers={**headers, "Content-Type": document.media_type}, timeout=10)
            assert put.status_code == 201, put.text
            assert put.headers["Docker-Content-Digest"] == document.digest
        return image.digest

    def delete_blob(self, repository: str, digest: str) -> None:
        token = self.tokens.token([{"type": "repository", "name": repository,
                                    "actions": ["pull", "push", "delete"]}], "ci-user")
        headers = {"Authorization": f"Bearer {token}"}
        done = requests.delete(f"{self.url}/v2/{repository}/blobs/{digest}", headers=headers, timeout=10)
        assert done.status_code == 202, done.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(registry: LocalRegistry) -> str:
    return f"""version: 0.1
log: {{level: info, formatter: text}}
storage:
  filesystem: {{rootdirectory: {registry.workdir / "data"}}}
  delete: {{enabled: true}}
http: {{addr: "{registry.host}"}}
auth:
  token:
    realm: {registry.tokens.realm}
    service: {SERVICE}
    issuer: {ISSUER}
    rootcertbundle: {registry.workdir / "token-cert.pem"}
"""


@contextmanager
def local_registry(tokens: TokenService, workdir: Path) -> Iterator[LocalRegistry]:
    """`docker-registry serve` on 127.0.0.1 for the duration (fails, never skips, when it is not installed)."""
    binary = shutil.which(REGISTRY_BINARY) or shutil.which(REGISTRY_BINARY, path="/usr/bin")
    assert binary, f"{REGISTRY_BINARY} is not installed: `apt-get install docker-registry` (.ci/run does)"
    registry = LocalRegistry(tokens, workdir, _free_port())
    (workdir / "token-cert.pem").write_bytes(tokens.certificate_pem)
    (workdir / "config.yml").write_text(_config(registry))
    with (workdir / "registry.log").open("wb") as log:
        registry.proc = subprocess.Popen([binary, "serve", str(workdir / "config.yml")], stdout=log,
                                         stderr=subprocess.STDOUT)
    try:
        _wait_until_up(registry)
        yield registry
    finally:
        registry.proc.terminate()
        try:
            registry.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            registry.proc.kill()
            registry.proc.wait()


def _wait_until_up(registry: LocalRegistry) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert registry.proc is not None and registry.proc.poll() is None, f"registry exited:\n{registry.log()}"
        try:
            if requests.get(f"{registry.url}/v2/", timeout=1).status_code == 401:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"registry did not answer within 20 s:\n{registry.log()}")
