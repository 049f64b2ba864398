"""A loopback fake of RunPod REST v2, following the published contract (`openapi-v2.json`, copied here).

A real HTTP server on 127.0.0.1 (a `ThreadingHTTPServer` in a thread), so clients are tested through their
real transport. Use it as a context manager:
`with FakeRunPod() as fake: client = RunPodClient(fake.api_key, fake.base_url)`.

One module per concern, so a new RunPod resource is new modules beside these (network volumes next), each
registering its routes:

- `contract`: request bodies validated with `jsonschema` against the spec's component schemas (422
  problem+json with one `errors` entry per violation); `problem`: RunPod's error answer.
- `model`: GPU types, hosts, pods, the statuses that bill, and each pod's billing intervals (`FakePod.billing`).
- `cloud`: the state behind one lock, and how pods move (phases on `Timings`, the CUDA gate, stop/start).
- `pods`: the pod routes, with creates that land later; `catalog`: `/v2/catalog/gpus`; `volumes`: network
  volumes (and the rules a pod that mounts one follows); `logs`: the SSE log streams of pods and workers;
  `routes`: the route table.
- `workers`: serverless endpoints and how their workers move (THROTTLED, INITIALIZING, IDLE/RUNNING,
  UNHEALTHY, scaled down after `idleTimeout`, `workers.max` lowered by RunPod); `serverless`: the
  `/v2/serverless` routes; `balancer`: the load balancer in front of each endpoint, on loopback.
- `faults`: what RunPod has been seen to do (status codes, a proxy's HTML 502, slow or dropped answers, work
  done with the answer lost, creates whose pod appears later, 400s that echo the request's env).
- `handler`: the HTTP side; `fake`: `FakeRunPod`, its lifecycle and test API (`inject`, `next_pods`, out-of-band
  stops, terminates and crashes; `billing`, `billing_pods`, `calls`, `wait_landings`; `balancer`,
  `next_workers`, `workers_of`, `lower_workers_max`).
"""

from tests.fakes.runpod.balancer import LoadBalancer, RoutedRequest
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
from tests.fakes.runpod.workers import FakeEndpoint, FakeWorker

__all__ = ["ACTIONS_BY_STATUS", "BILLING_STATUSES", "DEFAULT_GPU_TYPES", "FATES", "HTML_502", "NO_FREE_GPUS",
           "NO_INSTANCES", "FakeEndpoint", "FakeGpuType", "FakeHost", "FakePod", "FakeRunPod", "FakeVolume",
           "FakeWorker", "Fault", "LoadBalancer", "RecordedRequest", "RoutedRequest", "Timings", "check_body",
           "contract_errors", "default_hosts"]
