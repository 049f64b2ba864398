"""RunPod REST v2: one transport (`request()`, retries, typed errors, key scrubbing), one module per API
family (`pods`, `endpoints`, `volumes`, `catalog`, `logs`), reached from one `RunPodClient`.

REST v1 is retired and GraphQL retires early 2027, so this targets v2 only
(../shared/research/runpod.md; the contract is RunPod's published openapi-v2.json).
"""

from components.runpod.catalog import GpuOffer
from components.runpod.client import RunPodClient
from components.runpod.credentials import (
    DEFAULT_API_URL,
    ENV_SOURCES,
    KeySources,
    check_api_key,
    check_api_url,
    is_loopback,
    scrub,
)
from components.runpod.endpoints import EndpointInfo, WorkerInfo, Workers
from components.runpod.errors import (
    TRANSIENT,
    BadRequest,
    Conflict,
    Forbidden,
    InsecureApiUrl,
    InsufficientBalance,
    InvalidApiKey,
    InvalidRequest,
    MissingApiKey,
    NotFound,
    RateLimited,
    RunPodError,
    ServerError,
    TransportError,
    Unauthorized,
)
from components.runpod.logs import LogLine
from components.runpod.pods import NoCapacity, PodInfo
from components.runpod.volumes import VolumeInfo

__all__ = [
    "DEFAULT_API_URL", "ENV_SOURCES", "TRANSIENT", "BadRequest", "Conflict", "EndpointInfo", "Forbidden",
    "GpuOffer", "InsecureApiUrl",
    "InsufficientBalance", "InvalidApiKey", "InvalidRequest", "KeySources", "LogLine", "MissingApiKey",
    "NoCapacity", "NotFound", "PodInfo", "RateLimited", "RunPodClient", "RunPodError", "ServerError",
    "TransportError", "Unauthorized", "VolumeInfo", "WorkerInfo", "Workers", "check_api_key", "check_api_url",
    "is_loopback", "scrub",
]
