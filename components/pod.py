"""The RunPod pod as a Pulumi dynamic resource (`pulumi-python:dynamic/runpod:Pod`) over RunPod REST v2.

The pod may only land on a host whose driver runs the image (`gpu.minCudaVersion` on every create, the host's
`cudaVersion` checked once RUNNING), it never bills in silence when it fails (any failure after RunPod made
the pod terminates it before raising, with the cause read from the pod's system log), and `pulumi refresh`
and `pulumi destroy` handle it like any resource.

The provider follows the dynamic-provider contract: `create` is transactional, `delete` treats 404 as done,
`read` returns `ReadResult(None, {})` for a pod that is gone. It keeps no per-call state on `self` and
builds its HTTP client inside each method, because the host pickles it into state and runs calls on a
thread pool. Credentials come from `configure` (stack config) or the environment, never from the pickle.

This module holds what talks to RunPod: the calls, polls and clean-ups of create, stop, start, update and
delete. What the inputs mean (checks, diffs, request bodies, failure causes) is in `components/pod_rules.py`,
without I/O; the ledger of creates RunPod never answered is in `components/pod_landings.py`. `PodProvider`
and `Pod` must stay here under these names: state records the provider by module path and class name, so
moving them would break `pulumi refresh` and `destroy` of existing pods. Names other modules import from
here (`PodSpec`, `SETTINGS`, `explain`, ...) stay importable from here.

Knobs for operators and tests, read at call time: `RUNPOD_POLL_INTERVAL_S` (first poll interval, default
5 s; polls back off x1.5 up to four times that) and `RUNPOD_READ_TIMEOUT_S` (HTTP read timeout).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from components.pod_landings import Landings
from components.pod_rules import (
    INPUT_KEYS,
    MAX_POD_NAME,
    OUTPUT_KEYS,
    PROJECT,
    STOPPED_STATUSES,
    PodSpec,
    check_inputs,
    diff_inputs,
    errored_message,
    explain,
    live_outputs,
    named,
    setting,
    version_tuple,
)

# Re-exported: tests import the settings map from here, as they did before the rules moved out.
from components.pod_rules import SETTINGS as SETTINGS
from components.runpod_api import (
    BadRequest,
    Conflict,
    Forbidden,
    NoCapacity,
    NotFound,
    PodInfo,
    RunPodClient,
    RunPodError,
    ServerError,
    TransportError,
    read_timeout_from_env,
)

POD_NAME_PREFIX = f"{PROJECT}-"
# The stack's one pod resource: components/service.py registers `Pod(f"{name}-pod")` with name "autoglm",
# so a stack's pod is named `pod_name(stack, STACK_POD_RESOURCE)`.
STACK_POD_RESOURCE = "autoglm-pod"
POD_TYPE = "pulumi-python:dynamic/runpod:Pod"  # the type token

POLL_INTERVAL_S = 5.0
POLL_BACKOFF = 1.5
POLL_MAX_FACTOR = 4.0  # the interval grows to 4x the first one: 5 s -> 20 s
PROGRESS_EVERY_POLLS = 6
CREATE_ATTEMPTS = 3  # per GPU type, when RunPod answers 5xx and no pod was made
STOP_TIMEOUT_S = 120.0  # a stop RunPod has not completed by then fails the update
# After creates answered with an error or a timeout, pods RunPod made anyway may still appear: they are looked
# for this long after the last such create (or until each is accounted for), and adopted or terminated.
LANDING_GRACE_S = 120.0
LOG_TAIL = 200

FAILED_STATUSES = frozenset({"ERROR", "EXITED", "TERMINATED"})


class PodError(RuntimeError):
    """A pod could not be brought to (or kept in) the declared state; the message says why and what to do."""


def pod_name(stack: str, resource_name: str) -> str:
    """The deterministic RunPod name of a stack's pod: how lost creates are found and leaks are swept."""
    name = f"{POD_NAME_PREFIX}{stack}-{resource_name}"
    if len(name) <= MAX_POD_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]  # still unique, still deterministic
    return f"{name[:MAX_POD_NAME - 9]}-{digest}"


@dataclass
class PodArgs:
    """Inputs of `Pod`; the keys live in users' state, so keep them stable."""

    name: pulumi.Input[str]
    image: pulumi.Input[str]
    gpu_type_ids: pulumi.Input[Sequence[str]]  # in order of preference
    min_cuda_version: pulumi.Input[str]  # "12.9": the host driver floor the image needs
    gpu_count: pulumi.Input[int] = 1
    cloud: pulumi.Input[str] = "SECURE"
    container_disk_gb: pulumi.Input[int] = 80
    ports: pulumi.Input[Sequence[str]] = ("8000/http",)
    env: Mapping[str, pulumi.Input[str]] | None = None  # values may be secret Outputs
    args: pulumi.Input[str] | None = None  # passed to the image's ENTRYPOINT
    network_volume_id: pulumi.Input[str] | None = None
    volume_mount_path: pulumi.Input[str] = "/workspace"
    registry_auth_id: pulumi.Input[str] | None = None
    max_cost_per_hour: pulumi.Input[float] | None = None
    ready_timeout_s: pulumi.Input[int] = 1200
    running: pulumi.Input[bool] = True  # false stops the pod (GPU released, disk kept)


# ---- the provider ----------------------------------------------------------------------------------------


def _poll_interval_s() -> float:
    raw = os.environ.get("RUNPOD_POLL_INTERVAL_S")
    return float(raw) if raw else POLL_INTERVAL_S


def stack_of(name: str) -> str | None:
    """The stack whose pod is named `name` (the inverse of `pod_name(stack, STACK_POD_RESOURCE)`), if any."""
    suffix = f"-{STACK_POD_RESOURCE}"
    if name.startswith(POD_NAME_PREFIX) and name.endswith(suffix):
        stack = name[len(POD_NAME_PREFIX):-len(suffix)]
        if stack and pod_name(stack, STACK_POD_RESOURCE) == name:
            return stack
    return None


def sweep_hint(name: str) -> str:
    """How a user finds, and ends, pods named `name` that bill outside the state."""
    stack = stack_of(name)
    if stack is None:
        return (f"`python -m components.pods list` shows every pod named {name!r}; end the ones not in the "
                "stack's state in RunPod's console")
    return (f"`python -m components.pods sweep --stack {stack}` lists them (add `--keep` with the stack's own "
            "pod_id, if it has one, and `--yes` to terminate the others)")


def _landing_grace_s(client: RunPodClient) -> float:
    """How long after the last unanswered create its pod may still land: at least the create's read timeout.
    Read from this module's LANDING_GRACE_S at call time, so operators and tests tune it here."""
    return max(LANDING_GRACE_S, client.create_read_timeout_s)


class PodProvider(ResourceProvider):
    """CRUD of one RunPod GPU pod. Pickled into state by reference: keep the module path and class name."""

    _config_api_key: str | None = None
    _config_api_url: str | None = None

    def configure(self, req: ConfigureRequest) -> None:
        # Runs inside the provider host, after unpickling: the key never enters the pickle.
        self._config_api_key = req.config.get(f"{PROJECT}:runpodApiKey")
        self._config_api_url = req.config.get(f"{PROJECT}:runpodApiUrl")

    def _client(self) -> RunPodClient:
        """Config first, then env; a missing key fails at the first API call (never at preview)."""
        client = RunPodClient(self._config_api_key or os.environ.get("RUNPOD_API_KEY"),
                              self._config_api_url or os.environ.get("RUNPOD_API_URL"))
        client.set_read_timeout(read_timeout_from_env(os.environ))
        return client

    # check / diff ---------------------------------------------------------------------------------------

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs, failures = check_inputs(news)
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return diff_inputs(olds, news)

    # create ---------------------------------------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = PodSpec.from_props(props)
        client = self._client()
        ledger = Landings(already=self._namesakes(client, spec))
        pod = self._place(client, spec, ledger)
        try:
            pod = self._wait_running(client, pod, spec)
            self._end_duplicates(client, spec, ledger, keep=pod.id)
            self._verify_host(pod, spec)
            if not spec.running:
                pod = self._stop(client, pod, spec)
        except PodError as e:
            raise PodError(f"{e} {self._terminate_after_failure(client, spec, pod.id, ledger)}") from None
        except Exception as e:
            raise PodError(f"{spec.describe()} {pod.id}: {e}. "
                           f"{self._terminate_after_failure(client, spec, pod.id, ledger)}") from e
        except BaseException:  # interrupted: still do not leave a billing pod behind
            self._terminate_after_failure(client, spec, pod.id)
            raise
        return CreateResult(pod.id, self._outputs(spec, pod))

    @staticmethod
    def _namesakes(client: RunPodClient, spec: PodSpec) -> frozenset[str]:
        """Pods named like ours before we create: never adopted (a replacement's predecessor has our name)."""
        already = frozenset(p.id for p in client.list_pods() if p.name == spec.name)
        if already:
            pulumi.log.info(f"{len(already)} other pod(s) named {spec.name!r} exist ({', '.join(sorted(already))});"
                            " if none is this stack's, `python -m components.pods list` shows what they cost")
        return already

    def _place(self, client: RunPodClient, spec: PodSpec, ledger: Landings) -> PodInfo:
        """Try each GPU type in order; the first that RunPod places wins."""
        refusals: list[tuple[str, RunPodError]] = []
        for gpu in spec.gpu_type_ids:
            try:
                pod = self._create_one(client, spec, gpu, ledger)
            except (NoCapacity, BadRequest, Forbidden) as e:  # RunPod's advice: move to the next candidate
                pulumi.log.info(f"{spec.describe()}: {gpu} refused ({e.detail or e}); trying the next GPU type")
                refusals.append((gpu, e))
                continue
            pulumi.log.info(f"{spec.describe()}: created {pod.id} on {gpu} in {pod.data_center_id or '?'} "
                            f"(host CUDA {pod.cuda_version or 'unknown'}, ${pod.cost_per_hr:.2f}/h)")
            return pod
        raise PodError(self._nowhere_message(client, spec, refusals))

    def _create_one(self, client: RunPodClient, spec: PodSpec, gpu: str, ledger: Landings) -> PodInfo:
        """One GPU type. A 5xx or timeout may hide a pod RunPod made anyway (now or later): adopt it, never
        make a second blind; when every attempt failed, watch for late ones before giving up."""
        lookups = client.without_retries()  # the watch polls: one answer per look
        grace = _landing_grace_s(client)
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                pod = client.create_pod(spec.create_body(gpu))
            except (ServerError, TransportError) as e:
                ledger.unanswered(time.monotonic())
                time.sleep(_poll_interval_s() * attempt)  # a create still in flight gets time to land
                # Until a look answers, another create could stack a second pod on the first.
                made = ledger.watch(lookups, spec, grace, done=lambda _: True, poll_s=_poll_interval_s)
                if made:
                    return self._adopt(client, spec, made, e)
                if ledger.lookup_error is not None:
                    raise PodError(self._lost_creates(spec, gpu, ledger, e, grace)) from None
                if attempt < CREATE_ATTEMPTS:
                    continue
                pulumi.log.warn(f"{spec.describe()}: {ledger.unanswered_creates} create(s) on {gpu} got no clear "
                                f"answer ({e}); looking up to {grace:g} s for a pod RunPod made anyway, so none "
                                "bills unseen")
                made = ledger.watch(lookups, spec, grace, done=bool, poll_s=_poll_interval_s)
                if made:
                    return self._adopt(client, spec, made, e)
                raise PodError(self._lost_creates(spec, gpu, ledger, e, grace)) from None
            ledger.answered(pod.id)
            return pod
        raise AssertionError("unreachable")

    @staticmethod
    def _lost_creates(spec: PodSpec, gpu: str, ledger: Landings, error: RunPodError, grace: float) -> str:
        """Why no pod came of the creates, without claiming more than the lookups showed."""
        if ledger.lookup_error is None:
            outcome = (f"no pod named {spec.name!r} appeared within {grace:g} s of the last one. Should one "
                       f"appear later, it bills outside this stack: {sweep_hint(spec.name)}.")
        else:
            outcome = (f"whether RunPod made a pod anyway is unknown, because listing pods failed too "
                       f"({ledger.lookup_error}). A pod named {spec.name!r} may bill outside this stack: "
                       f"{sweep_hint(spec.name)}.")
        return (f"RunPod failed {ledger.unanswered_creates} create(s) of {spec.describe()} on {gpu} ({error}); "
                f"{outcome} Run `pulumi up` again later.")

    def _adopt(self, client: RunPodClient, spec: PodSpec, made: list[PodInfo], error: RunPodError) -> PodInfo:
        """The oldest pod a lost create made is ours; any other one is terminated."""
        for extra in made[1:]:
            pulumi.log.warn(f"{spec.describe()}: a lost create made pod {extra.id} as well; ending it")
            self._terminate_after_failure(client, spec, extra.id)
        pulumi.log.warn(f"{spec.describe()}: RunPod answered the create with an error ({error}) but made pod "
                        f"{made[0].id}; adopting it")
        return made[0]

    def _end_duplicates(self, client: RunPodClient, spec: PodSpec, ledger: Landings, keep: str | None) -> str:
        """A create that failed or timed out may land after another attempt made our pod: keep at most `keep`,
        watching until every such create is accounted for or the grace window ends. Returns a sentence for
        an error message when some may still land."""
        if ledger.unanswered_creates:
            if not ledger.accounted():
                pulumi.log.info(f"{spec.describe()}: waiting up to {_landing_grace_s(client):g} s after the last "
                                "create RunPod never answered, so a pod it makes late does not bill unseen")
            ledger.watch(client.without_retries(), spec, _landing_grace_s(client), done=lambda _: ledger.accounted(),
                         poll_s=_poll_interval_s, on_seen=lambda extra: self._end_extra(client, spec, extra, keep))
        else:  # no create went unanswered: one look for a namesake made meanwhile
            try:
                for extra in ledger.look(client, spec):
                    self._end_extra(client, spec, extra, keep)
            except RunPodError as e:
                pulumi.log.warn(f"{spec.describe()}: could not check for duplicate pods ({e})")
        if ledger.accounted():
            return ""
        missing = ledger.unanswered_creates + ledger.answered_creates - len(ledger.seen)
        hint = (f"{missing} create(s) RunPod never answered may still make a pod named {spec.name!r}, billing "
                f"outside this stack: {sweep_hint(spec.name)}.")
        pulumi.log.warn(f"{spec.describe()}: {hint}")
        return hint

    def _end_extra(self, client: RunPodClient, spec: PodSpec, extra: PodInfo, keep: str | None) -> None:
        if extra.id != keep and extra.status != "TERMINATED":
            pulumi.log.warn(f"{spec.describe()}: a late create made pod {extra.id} as well; ending it")
            self._terminate_after_failure(client, spec, extra.id)

    def _nowhere_message(self, client: RunPodClient, spec: PodSpec, refusals: list[tuple[str, RunPodError]]) -> str:
        reasons = "; ".join(f"{gpu}: {(e.detail or str(e)).rstrip('.')}" for gpu, e in refusals)
        head = (f"no GPU type in {named('gpu_type_ids')} could be placed for {spec.describe()} ({spec.gpu_count} "
                f"GPU, CUDA ≥ {spec.min_cuda_version}, {spec.cloud} cloud): {reasons}.")
        if refusals and not any(isinstance(e, NoCapacity | Forbidden) for _, e in refusals):
            return (f"{head} Every type refused the request the same way, so the request itself is the likely "
                    f"problem: {refusals[-1][1].detail}")
        return f"{head} Try: {self._suggestions(client, spec)}"

    def _suggestions(self, client: RunPodClient, spec: PodSpec) -> str:
        other = "COMMUNITY" if spec.cloud == "SECURE" else "SECURE"
        tips = [f"set {setting('cloud')} to {other}", "retry later"]
        try:
            catalog = client.list_gpu_types(count=spec.gpu_count, cloud=spec.cloud,
                                            min_cuda_version=spec.min_cuda_version)
        except RunPodError:
            return "; ".join([f"other GPU types in {setting('gpu_type_ids')}", *tips])
        free = sorted((g for g in catalog if g.get("availability", "NONE") != "NONE"
                       and g["id"] not in spec.gpu_type_ids),
                      key=lambda g: g.get("price", {}).get(spec.cloud.lower(), 0.0))
        if free:
            names = ", ".join(f"{g['id']} ({g.get('memory', '?')} GB, {g.get('availability')})" for g in free[:5])
            tips.insert(0, f"add to {setting('gpu_type_ids')} GPU types RunPod has free now at CUDA ≥ "
                           f"{spec.min_cuda_version}: {names}")
        else:
            tips.insert(0, f"other GPU types in {setting('gpu_type_ids')} (RunPod's catalog shows none free right "
                           "now at this CUDA floor)")
        return "; ".join(tips)

    # waiting --------------------------------------------------------------------------------------------

    def _wait_running(self, client: RunPodClient, pod: PodInfo, spec: PodSpec) -> PodInfo:
        """Poll with backoff until RUNNING; ERROR/EXITED/TERMINATED or the deadline raise with the cause."""
        first = _poll_interval_s()
        interval, started = first, time.monotonic()
        deadline = started + spec.ready_timeout_s
        polls, seen = 0, pod.status
        while pod.status != "RUNNING":
            elapsed = time.monotonic() - started
            if pod.status in FAILED_STATUSES:
                raise PodError(self._failure(client, pod, spec, f"turned {pod.status} after {elapsed:.0f} s",
                                             first))
            if time.monotonic() >= deadline:
                raise PodError(self._failure(
                    client, pod, spec, f"was still {pod.status} after {spec.ready_timeout_s} s "
                    f"({named('ready_timeout_s')}: raise it if the pod is only slow to start)", first))
            if polls % PROGRESS_EVERY_POLLS == 0 or pod.status != seen:
                pulumi.log.info(f"{spec.describe()} {pod.id}: {pod.status} for {elapsed:.0f} s "
                                f"(waiting up to {spec.ready_timeout_s} s for RUNNING)")
            seen = pod.status
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            interval = min(interval * POLL_BACKOFF, first * POLL_MAX_FACTOR)
            polls += 1
            pod = self._poll(client, pod)
        pulumi.log.info(f"{spec.describe()} {pod.id}: RUNNING after {time.monotonic() - started:.0f} s")
        return pod

    def _poll(self, client: RunPodClient, pod: PodInfo, doing: str = "starting") -> PodInfo:
        """One status read; a transient failure (after the client's retries) keeps the last known state."""
        try:
            return client.get_pod(pod.id)
        except NotFound:
            raise PodError(f"pod {pod.id} disappeared while {doing} (terminated outside this stack?)") from None
        except (ServerError, TransportError) as e:
            pulumi.log.warn(f"pod {pod.id}: status read failed ({e}); polling on")
            return pod

    def _failure(self, client: RunPodClient, pod: PodInfo, spec: PodSpec, what: str, poll_s: float) -> str:
        lines = self._system_log(client, pod.id, poll_s)
        cause = explain(lines, pod, spec.min_cuda_version)
        if lines and cause.endswith("log above"):
            pulumi.log.error(f"pod {pod.id} system log (last lines):\n" + "\n".join(lines[-15:]))
        where = f"{pod.gpu_type_id or '?'} in {pod.data_center_id or '?'}, host CUDA {pod.cuda_version or 'unknown'}"
        return f"pod {pod.id} ({pod.name}) on {where} {what}: {cause}."

    @staticmethod
    def _system_log(client: RunPodClient, pod_id: str, poll_s: float) -> list[str]:
        """The pod's system log, read with bounds (the stream stays open after its backfill)."""
        idle = min(2.0, max(0.2, poll_s))
        try:
            return [e.line for e in client.stream_logs(pod_id, source="system", tail=LOG_TAIL, idle_s=idle,
                                                       max_s=10 * idle)]
        except RunPodError as e:
            pulumi.log.warn(f"pod {pod_id}: could not read its system log ({e})")
            return []

    def _verify_host(self, pod: PodInfo, spec: PodSpec) -> None:
        if pod.cuda_version is None:
            pulumi.log.warn(f"pod {pod.id}: RunPod did not report the host's CUDA version; it reached RUNNING, "
                            "so the image's CUDA requirement was met")
        elif version_tuple(pod.cuda_version) < version_tuple(spec.min_cuda_version):
            raise PodError(f"pod {pod.id} landed on a host with CUDA {pod.cuda_version}, below "
                           f"{named('min_cuda_version')} {spec.min_cuda_version}: RunPod placed it below the floor "
                           "the create asked for; retry with `pulumi up`.")
        if spec.max_cost_per_hour is not None and pod.cost_per_hr > spec.max_cost_per_hour:
            raise PodError(f"pod {pod.id} on {pod.gpu_type_id} costs ${pod.cost_per_hr:.2f}/h, above "
                           f"{named('max_cost_per_hour')} ${spec.max_cost_per_hour:.2f}: list cheaper GPU types "
                           f"first in {setting('gpu_type_ids')}, or raise {setting('max_cost_per_hour')}.")

    def _terminate_after_failure(self, client: RunPodClient, spec: PodSpec, pod_id: str,
                                 ledger: Landings | None = None) -> str:
        """Best effort: a failed pod must not bill. Returns the sentence to add to the error; with a ledger of
        creates RunPod never answered, also ends (or names) the pods those may still make."""
        try:
            client.terminate_pod(pod_id)
        except NotFound:
            sentence = f"Pod {pod_id} is already gone, so it does not bill."
        except RunPodError as e:
            pulumi.log.error(f"pod {pod_id}: terminate failed ({e})")
            sentence = (f"Terminating pod {pod_id} failed too ({e}): it bills until you end it "
                        f"({sweep_hint(spec.name)}).")
        else:
            pulumi.log.info(f"pod {pod_id}: terminated")
            sentence = f"Pod {pod_id} was terminated, so it does not bill."
        if ledger is not None and ledger.unanswered_creates:
            late = self._end_duplicates(client, spec, ledger, keep=None)
            sentence = f"{sentence} {late}" if late else sentence
        return sentence

    # stop / start ----------------------------------------------------------------------------------------

    def _stop(self, client: RunPodClient, pod: PodInfo, spec: PodSpec) -> PodInfo:
        """Stop (GPU released, disk kept) and return once RunPod reports the pod stopped. A pod in ERROR cannot
        be stopped (it bills), and a stop not done within STOP_TIMEOUT_S fails: neither is recorded stopped."""
        deadline = time.monotonic() + STOP_TIMEOUT_S
        accepted = False
        while pod.status not in STOPPED_STATUSES:
            if pod.status == "ERROR":
                raise PodError(errored_message(pod))
            if time.monotonic() >= deadline:
                raise PodError(
                    f"RunPod did not stop pod {pod.id} within {STOP_TIMEOUT_S:g} s: it is {pod.status} and bills "
                    f"${pod.cost_per_hr:.2f}/h. Run `pulumi up` again to retry the stop ({setting('running')} is "
                    f"false), or `pulumi destroy` to end the pod; {sweep_hint(spec.name)}.")
            if not accepted:
                try:
                    client.pod_action(pod.id, "stop")
                    accepted = True
                except Conflict:
                    pass  # the status moved on, or the pod is busy: the next read tells, and the stop is re-sent
            time.sleep(min(_poll_interval_s(), max(0.0, deadline - time.monotonic())))
            pod = self._poll(client, pod, "stopping")
        pulumi.log.info(f"{spec.describe()} {pod.id}: {pod.status} (stopped: the GPU is released, the disk kept)")
        return pod

    def _start(self, client: RunPodClient, pod: PodInfo, spec: PodSpec) -> PodInfo:
        if pod.status == "ERROR":
            pulumi.log.warn(f"{spec.describe()} {pod.id}: in ERROR (it bills ${pod.cost_per_hr:.2f}/h); starting it "
                            "again")
        try:
            started = client.pod_action(pod.id, "start")
        except NoCapacity as e:
            raise PodError(
                f"RunPod refused to start pod {pod.id}: \"{e.detail}\" A stopped pod resumes on its own host, and "
                "that host has no free GPU now. Either retry later (`pulumi up`), keep it stopped meanwhile with "
                f"`pulumi config set {setting('running')} false`, or get a new host with "
                "`pulumi up --replace <the pod's URN>` (`pulumi stack --show-urns` lists it); a new pod starts "
                "with an empty container disk.") from None
        except Conflict:
            started = None  # already starting or running
        pulumi.log.info(f"{spec.describe()} {pod.id}: start requested")
        return started or client.get_pod(pod.id)

    # read / update / delete ------------------------------------------------------------------------------

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            pod = self._client().get_pod(id_)
        except NotFound:
            return ReadResult(None, {})
        if pod.status == "TERMINATED":
            return ReadResult(None, {})
        if pod.status == "ERROR":
            pulumi.log.warn(errored_message(pod))
        outs = live_outputs({k: v for k, v in props.items() if k != "__provider"}, pod)
        return ReadResult(id_, outs, {k: outs[k] for k in INPUT_KEYS if k in outs})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        spec = PodSpec.from_props(news)
        client = self._client()
        try:
            pod = client.get_pod(id_)
        except NotFound:
            raise PodError(f"pod {id_} no longer exists: run `pulumi refresh`, then `pulumi up` to create it "
                           "again") from None
        if not spec.running and pod.status == "ERROR":
            raise PodError(errored_message(pod))  # before any change: stopping cannot end its billing
        patch = spec.patch_body(olds)
        if patch:
            pulumi.log.info(f"{spec.describe()} {id_}: updating {', '.join(sorted(patch))} in place")
            pod = client.update_pod(id_, patch)
        if not spec.running:
            return UpdateResult(self._outputs(spec, self._stop(client, pod, spec)))
        if pod.status in STOPPED_STATUSES or pod.status == "ERROR":
            pod = self._start(client, pod, spec)
        if pod.status != "RUNNING":
            try:
                pod = self._wait_running(client, pod, spec)
            except PodError as e:
                raise PodError(f"{e} {self._contain(client, pod.id)}") from None
        self._verify_host(pod, spec)
        return UpdateResult(self._outputs(spec, pod))

    def _contain(self, client: RunPodClient, pod_id: str) -> str:
        """After a failed update the pod stays in state (it may hold data): stop it rather than end it."""
        try:
            pod = client.get_pod(pod_id)
            if "stop" in pod.actions:
                client.pod_action(pod_id, "stop")
                return f"Pod {pod_id} was stopped so it does not bill GPU time; fix the cause and `pulumi up`."
        except RunPodError as e:
            return f"Pod {pod_id} could not be stopped ({e}) and may bill: `pulumi destroy` or fix and `pulumi up`."
        return (f"Pod {pod_id} is {pod.status} and may bill: `pulumi up --replace <the pod's URN>` for a new pod, "
                "or `pulumi destroy`.")

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        try:
            self._client().terminate_pod(id_)
        except NotFound:
            pulumi.log.info(f"pod {id_} was already gone")

    @staticmethod
    def _outputs(spec: PodSpec, pod: PodInfo) -> dict[str, Any]:
        return {**spec.inputs(), "pod_id": pod.id, "status": pod.status, "gpu_type_id": pod.gpu_type_id,
                "cuda_version": pod.cuda_version, "cost_per_hr": pod.cost_per_hr,
                "data_center_id": pod.data_center_id, "endpoint_url": spec.endpoint_url(pod.id)}


class Pod(pulumi.dynamic.Resource, module="runpod", name="Pod"):
    """A RunPod GPU pod that only runs where its image can, and never bills in silence when it fails."""

    name: pulumi.Output[str]
    image: pulumi.Output[str]
    gpu_type_ids: pulumi.Output[list[str]]
    gpu_count: pulumi.Output[int]
    cloud: pulumi.Output[str]
    min_cuda_version: pulumi.Output[str]
    container_disk_gb: pulumi.Output[int]
    ports: pulumi.Output[list[str]]
    env: pulumi.Output[dict[str, str]]
    args: pulumi.Output[str | None]
    network_volume_id: pulumi.Output[str | None]
    volume_mount_path: pulumi.Output[str]
    registry_auth_id: pulumi.Output[str | None]
    max_cost_per_hour: pulumi.Output[float | None]
    ready_timeout_s: pulumi.Output[int]
    running: pulumi.Output[bool]
    pod_id: pulumi.Output[str]
    status: pulumi.Output[str]
    gpu_type_id: pulumi.Output[str]
    cuda_version: pulumi.Output[str | None]
    cost_per_hr: pulumi.Output[float]
    data_center_id: pulumi.Output[str | None]
    endpoint_url: pulumi.Output[str]

    def __init__(self, resource_name: str, args: PodArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {f.name: getattr(args, f.name) for f in fields(args)}
        props.update(dict.fromkeys(OUTPUT_KEYS))
        # env carries the HF token and the vLLM key: keep it encrypted in state (input and output) whatever
        # the program passed.
        if args.env is not None:
            props["env"] = pulumi.Output.secret(args.env)
        secret_env = pulumi.ResourceOptions(additional_secret_outputs=["env"])
        super().__init__(PodProvider(), resource_name, props, pulumi.ResourceOptions.merge(opts, secret_env))
