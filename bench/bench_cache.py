"""Model: time and money to the first answer for a fresh pod, and for a pod on a warm model cache volume.

Nothing here talks to RunPod: it adds up the phases of a start from stated assumptions, at the low, typical and
high ends of the figures the research gathered, and prints each start (fresh pod, cold volume, warm volume, warm
volume with the image already on the host) side by side. Every figure is a flag.

Sources (../shared/research/):
- image: vLLM's image is ~12 GB compressed (vllm_autoglm.md §2.1, vllm #27154); "several minutes of image pull on
  a fresh RunPod host". A replacement pod lands on a new host, so both starts pull it.
- weights: AutoGLM-Phone-9B is 20.6 GB of bf16 safetensors (components/compat/models.py); from Hugging Face at
  0.1–0.5 GB/s (vllm_autoglm.md §6). A fresh pod downloads them to its container disk and reads them back from
  local NVMe (~2 GB/s assumed); with a cold volume the download is written to the volume (200–400 MB/s, the slower
  of the two wins).
- volume: STANDARD network volumes read at 200–400 MB/s (runpod-scale.md c.3; HIGH_PERFORMANCE up to 3×), so
  ~1–2 min for 20 GB; they bill $0.07/GB/month (first TB).
- engine: 1.5–4 min after the weights are local (load, profiling, torch.compile, CUDA graphs); torch.compile
  takes ~43 s cold and ~5 s from the cache the volume keeps (vllm #44881), so a warm volume saves ~38 s.
- placement: the scheduler's provisioning, ~0.5–1.5 min (assumed; RunPod publishes no figure).
- money: a pod bills per second from placement: list price × GPU count (L40S Secure $0.86/h by default).
- luck: RunPod keeps pulled images per host (dstack #1459), so a pod that lands where the image was pulled
  before skips the pull; the stack cannot choose that, so it is shown apart.

No target: the figures are the research's, not measurements, so the script states what follows from them.

    python -m bench.bench_cache [--usd-per-hour 0.86] [--image-gb 12] [--weights-gb 20.6] [--cache-gb 30]
                                [--starts-per-month 20] [--volume-speed 1.0]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace

from components.compat import AUTOGLM_PHONE_9B
from components.providers.volume_inputs import monthly_price


@dataclass(frozen=True)
class Figures:
    """One end of the assumptions: seconds and speeds (GB = 10^9 bytes)."""

    label: str
    provisioning_s: float
    image_gb_per_s: float  # image pull, compressed bytes per second
    hub_gb_per_s: float  # Hugging Face download
    volume_gb_per_s: float  # network volume read and write
    engine_s: float  # load, profiling, compile and graphs with the weights local and no compile cache
    local_gb_per_s: float = 2.0  # the container disk (local NVMe)
    compile_saved_s: float = 38.0  # torch.compile from the volume's cache instead of cold


LOW = Figures("best", provisioning_s=30, image_gb_per_s=0.10, hub_gb_per_s=0.5, volume_gb_per_s=0.4, engine_s=90)
TYPICAL = Figures("typical", provisioning_s=60, image_gb_per_s=0.05, hub_gb_per_s=0.25, volume_gb_per_s=0.3,
                  engine_s=150)
HIGH = Figures("worst", provisioning_s=90, image_gb_per_s=0.025, hub_gb_per_s=0.1, volume_gb_per_s=0.2,
               engine_s=240)


@dataclass(frozen=True)
class Start:
    name: str
    phases: tuple[tuple[str, float], ...]

    @property
    def seconds(self) -> float:
        return sum(s for _, s in self.phases)


def fresh_pod(f: Figures, image_gb: float, weights_gb: float) -> Start:
    return Start("fresh pod", (("placement", f.provisioning_s), ("image pull", image_gb / f.image_gb_per_s),
                               ("weights download", weights_gb / f.hub_gb_per_s),
                               ("weights read (local disk)", weights_gb / f.local_gb_per_s),
                               ("engine start", f.engine_s)))


def cold_volume(f: Figures, image_gb: float, weights_gb: float) -> Start:
    """The first pod on a new volume: the download is written there, at the slower of the hub and the volume."""
    write = weights_gb / min(f.hub_gb_per_s, f.volume_gb_per_s)
    return Start("first pod, cold volume", (("placement", f.provisioning_s),
                                            ("image pull", image_gb / f.image_gb_per_s),
                                            ("weights download to the volume", write),
                                            ("weights read (volume)", weights_gb / f.volume_gb_per_s),
                                            ("engine start", f.engine_s)))


def warm_volume(f: Figures, image_gb: float, weights_gb: float) -> Start:
    return Start("pod on a warm volume", (("placement", f.provisioning_s),
                                          ("image pull", image_gb / f.image_gb_per_s),
                                          ("weights read (volume)", weights_gb / f.volume_gb_per_s),
                                          ("engine start, compile cached", f.engine_s - f.compile_saved_s)))


def warm_volume_image_on_host(f: Figures, image_gb: float, weights_gb: float) -> Start:
    warm = warm_volume(f, image_gb, weights_gb)
    return Start("warm volume, image on host", tuple(p for p in warm.phases if p[0] != "image pull"))


def _row(start: Start, usd_per_hour: float) -> str:
    money = start.seconds / 3600 * usd_per_hour
    phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in start.phases)
    return f"  {start.name:27} {start.seconds / 60:5.1f} min  ${money:.3f}   ({phases})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--usd-per-hour", type=float, default=0.86, help="the pod's $/h (default: L40S, Secure)")
    parser.add_argument("--image-gb", type=float, default=12.0, help="compressed image size (default 12)")
    parser.add_argument("--weights-gb", type=float, default=AUTOGLM_PHONE_9B.weights_gb)
    parser.add_argument("--cache-gb", type=int, default=30, help="the volume's size, modelCacheGb (default 30)")
    parser.add_argument("--starts-per-month", type=int, default=20, help="pods started on the volume per month")
    parser.add_argument("--volume-speed", type=float, default=1.0,
                        help="volume throughput factor (HIGH_PERFORMANCE: up to 3)")
    args = parser.parse_args()
    print(f"Time and money to the first answer: {args.image_gb:g} GB image, {args.weights_gb:g} GB weights, "
          f"${args.usd_per_hour:.2f}/h billed from placement")
    for figures in (LOW, TYPICAL, HIGH):
        starts = _starts(figures, args)
        print(f"{figures.label} case (image {figures.image_gb_per_s * 1000:.0f} MB/s, hub "
              f"{figures.hub_gb_per_s * 1000:.0f} MB/s, volume {figures.volume_gb_per_s * args.volume_speed * 1000:.0f}"
              f" MB/s, engine {figures.engine_s:.0f} s):")
        for one in starts:
            print(_row(one, args.usd_per_hour))
    typical = _starts(TYPICAL, args)
    fresh, warm = typical[0], typical[2]
    saved_s = fresh.seconds - warm.seconds
    price = monthly_price(args.cache_gb, "STANDARD") or 0.0
    print(f"The volume: {args.cache_gb} GB STANDARD bills ${price:.2f}/month whether pods run or not.")
    if saved_s <= 0:
        print(f"Typical figures: a pod on a warm volume is no sooner than a fresh pod ({saved_s / 60:+.1f} min): "
              "at this volume speed the cache buys neither time nor money.")
        return 0
    saved = saved_s / 3600 * args.usd_per_hour
    print(f"Typical figures: a pod on a warm volume answers {saved_s / 60:.1f} min sooner than a fresh pod "
          f"({warm.seconds / fresh.seconds:.0%} of its time) and saves ${saved:.3f} of GPU time; the image pull, "
          "which no volume holds, is the largest part left.")
    print(f"{args.starts_per_month} warm starts a month save ${saved * args.starts_per_month:.2f} of GPU time. It "
          f"pays for itself in GPU time from {price / saved:.0f} starts a month; below that it buys minutes (and "
          "independence from Hugging Face's speed), not money.")
    return 0


def _starts(figures: Figures, args: argparse.Namespace) -> list[Start]:
    f = replace(figures, volume_gb_per_s=figures.volume_gb_per_s * args.volume_speed)
    return [start(f, args.image_gb, args.weights_gb)
            for start in (fresh_pod, cold_volume, warm_volume, warm_volume_image_on_host)]


if __name__ == "__main__":
    sys.exit(main())
