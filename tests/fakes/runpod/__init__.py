"""A loopback fake of RunPod REST v2, following the published contract (`openapi-v2.json`, copied here).

A real HTTP server on 127.0.0.1 (a `ThreadingHTTPServer` in a thread), so clients are tested through their
real transport. Use it as a context manager:
`with FakeRunPod() as fake: client = RunPodClient(fake.api_key, fake.base_url)`.

One module per concern, so a new RunPod resource is new modules beside these (serverless endpoints with
workers and a load-balancer front; network volumes; a richer catalog), each registering its routes:

- `contract`: request bodies validated with `jsonschema` against the spec's component schemas (422
  problem+json with one `errors` entry per violation); `problem`: RunPod's error answer.
- `model`: GPU types, hosts, pods, the statuses that bill, and each pod's billing intervals (`FakePod.billing`).
- `cloud`: the state behind one lock, and how pods move (phases on `Timings`, the CUDA gate, stop/start).
- `pods`: the pod routes, with creates that land later; `catalog`: `/v2/catalog/gpus`; `volumes`: network
  volumes (and the rules a pod that mounts one follows); `logs`: the SSE log stream; `routes`: the route table.
- `faults`: what RunPod has been seen to do (status codes, a proxy's HTML 502, slow or dropped answers, work
  done with the answer lost, creates whose pod appears later, 400s that echo the request's env).
- `handler`: the HTTP side; `fake`: `FakeRunPod`, its lifecycle and test API (`inject`, `next_pods`, out-of-band
  stops, terminates and crashes; `billing`, `billing_pods`, `calls`, `wait_landings`).
"""

from tests.fakes.runpod.contract import check_body, contract_errors
from tests.fakes.runpod.fake import FakeRunPod
from tests.fakes.runpod.faults import HTML_502, Fault
from tests.fakes.runpod.model import (
    ACTIONS_BY_STATUS,
    BILLING_STATUSES,
    DEFAULT_GPU_TYPES,
    FATES,
    NO_FREE_GPUS,
    NO_INSTANCES,
    FakeGpuType,
    FakeHost,
    FakePod,
    FakeVolume,
    RecordedRequest,
    Timings,
    default_hosts,
)

__all__ = ["ACTIONS_BY_STATUS", "BILLING_STATUSES", "DEFAULT_GPU_TYPES", "FATES", "HTML_502", "NO_FREE_GPUS",
           "NO_INSTANCES", "FakeGpuType", "FakeHost", "FakePod", "FakeRunPod", "FakeVolume", "Fault", "RecordedRequest",
           "Timings", "check_body", "contract_errors", "default_hosts"]
