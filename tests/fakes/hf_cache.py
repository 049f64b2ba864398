"""The Hugging Face cache a vLLM start reads or fills, as the vLLM fake models it (`FakeVllm(hf_home=...)`).

It keeps the hub's layout under `HF_HOME` (`hub/models--ORG--NAME/{blobs,snapshots/REV,refs/main}`): a model is
in the cache once its snapshot holds the config and the weights. A start on a cold cache downloads for
`download_s` seconds, writing its weights as `blobs/*.incomplete` meanwhile, as huggingface_hub does; offline
(`HF_HUB_OFFLINE=1`) a cold cache is an error, as it is for vLLM. Every start appends what it did to
`HF_HOME/fake-vllm.log` (`<pid> <model> warm|downloaded|missing [offline]`), and a download that saw another
one beside it (another `.incomplete` file, or weights that appeared meanwhile) logs `concurrent`: two writers on
one cache, the corruption RunPod's docs warn about.
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LOG_NAME", "REVISION", "HfCache", "OfflineMiss"]

REVISION = "0123456789abcdef0123456789abcdef01234567"
LOG_NAME = "fake-vllm.log"


class OfflineMiss(RuntimeError):
    """Offline, and the model is not in the cache (huggingface_hub's LocalEntryNotFoundError, as vLLM shows it)."""


@dataclass(frozen=True)
class HfCache:
    hf_home: Path

    def repo(self, model: str) -> Path:
        return self.hf_home / "hub" / f"models--{model.replace('/', '--')}"

    def snapshot(self, model: str) -> Path:
        return self.repo(model) / "snapshots" / REVISION

    def is_warm(self, model: str) -> bool:
        snapshot = self.snapshot(model)
        return (snapshot / "config.json").is_file() and (snapshot / "model.safetensors").is_file()

    def fetch(self, model: str, *, download_s: float, offline: bool, stop: threading.Event) -> str:
        """What a start does to the cache: `warm`, `downloaded`, or OfflineMiss. False when `stop` cut it short."""
        if self.is_warm(model):
            self.note(model, "warm", offline)
            return "warm"
        if offline:
            self.note(model, "missing", offline)
            raise OfflineMiss(f"We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find "
                              f"them in the cached files for {model} (HF_HUB_OFFLINE=1)")
        blobs = self.repo(model) / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        weights = blobs / "weights"
        partial = blobs / f"weights-{uuid.uuid4().hex}.incomplete"  # one per download, as the hub names them
        partial.write_bytes(b"")
        if stop.wait(download_s):
            return "stopped"
        if weights.exists() or [p for p in blobs.glob("*.incomplete") if p != partial]:
            self.note(model, "concurrent", offline)  # another download ran beside this one
        partial.replace(weights)
        snapshot = self.snapshot(model)
        snapshot.mkdir(parents=True, exist_ok=True)
        (snapshot / "config.json").write_text('{"architectures": ["Glm4vForConditionalGeneration"]}')
        (snapshot / "model.safetensors").write_bytes(b"weights")
        (self.repo(model) / "refs").mkdir(exist_ok=True)
        (self.repo(model) / "refs" / "main").write_text(REVISION)
        self.note(model, "downloaded", offline)
        return "downloaded"

    def note(self, model: str, what: str, offline: bool) -> None:
        with (self.hf_home / LOG_NAME).open("a") as log:
            log.write(f"{os.getpid()} {model} {what}{' offline' if offline else ''}\n")

    def log(self) -> list[str]:
        path = self.hf_home / LOG_NAME
        return path.read_text().splitlines() if path.exists() else []
