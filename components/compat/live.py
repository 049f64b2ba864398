"""`python -m components.compat --live`: the GPU types a pod create would try now, in order, ranked from RunPod's
live catalog with the stack's own rules (`components.placement`): list price × GPU count, availability at the
image's CUDA floor, the budget and the data center. The one mode that calls RunPod (read-only), so it imports the
client only when run: the rest of the command stays free of HTTP libraries. The key comes from RUNPOD_API_KEY.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from components import compat

__all__ = ["rank"]


def rank(args: argparse.Namespace, wanted: list[str], out: TextIO) -> int:
    """Exit 0 with something to try, 1 when nothing may be tried, 2 without a usable RunPod key (or with bad
    RUNPOD_* timing variables)."""
    from components.placement import NoCandidate, compat_fits, describe_plan, plan_pod
    from components.runpod import InsecureApiUrl, InvalidApiKey, MissingApiKey, RunPodClient, RunPodError, Unauthorized
    from components.tuning import TuningError

    floor = compat.cuda_floor(args.vllm).cuda
    try:
        client = RunPodClient.from_env()
        offers = client.catalog.offers(product="POD", count=args.gpu_count, cloud=args.cloud, min_cuda_version=floor)
        error = None
    except (MissingApiKey, InvalidApiKey, InsecureApiUrl, Unauthorized, TuningError) as e:
        # Nothing to rank without the catalog's prices: unlike a catalog RunPod fails to serve, a key or
        # setting of the user's own is fixed before trying again (the errors never quote the key).
        sys.stderr.write(f"error: --live reads RunPod's catalog: {e}\n")
        return 2
    except RunPodError as e:
        offers, error = None, str(e)
        out.write(f"RunPod's catalog could not be read ({e}): listed GPU types are shown unpriced.\n")
    where = f", in {args.data_center}" if args.data_center else ""
    budget = f", at most ${args.max_cost_per_hour:.2f}/h" if args.max_cost_per_hour else ""
    out.write(f"GPU types a pod create tries now: {args.cloud} cloud, {args.gpu_count} GPU, CUDA ≥ {floor} "
              f"(vLLM {args.vllm}){where}{budget}\n")
    try:
        plan = plan_pod(wanted, offers=offers, fits=compat_fits(args.vllm, args.gpu_count, args.model,
                                                                args.max_model_len),
                        cloud=args.cloud, gpu_count=args.gpu_count, max_cost_per_hour=args.max_cost_per_hour,
                        data_center=args.data_center, catalog_error=error)
    except NoCandidate as e:
        out.write(f"NOTHING TO TRY: {e}\n")
        return 1
    for line in describe_plan(plan, wanted, every_drop=args.all):
        out.write(f"  {line}\n")
    return 0
