"""`HealthCheck` through the SDK's real dynamic-provider host over gRPC, and under Pulumi mocks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pulumi
import pytest
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2

from components import tuning
from components.health import (
    API_KEY_SETTING,
    HealthCheck,
    HealthCheckArgs,
    HealthCheckProvider,
)
from tests.fakes.vllm import FakeVllm
from tests.provider_host import Host, HostError, provider_host

POLL_ENV, REQUEST_TIMEOUT_ENV = tuning.HEALTH_POLL.env, tuning.HEALTH_REQUEST_TIMEOUT.env

TOKEN = "pulumi-python:dynamic/vllm:HealthCheck"
MODEL = "autoglm-phone-9b"
KEY = "vllm-key-0123456789abcdef"
NEW_KEY = "vllm-key-rotated-99999999"


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    env = {POLL_ENV: "0.1", REQUEST_TIMEOUT_ENV: "5"}
    with provider_host(HealthCheckProvider(), TOKEN, env=env) as h:
        yield h


def props(base_url: str, **overrides) -> dict:
    return {"base_url": base_url, "served_model_name": MODEL, "image_check": True, "timeout_s": 5,
            "triggers": ["pod-1", "image@sha256:aaa"], "enabled": True, **overrides}


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        dumped = text if isinstance(text, str) else json.dumps(text, default=str)
        assert KEY not in dumped and NEW_KEY not in dumped


def no_changes(resp: provider_pb2.DiffResponse) -> bool:
    return resp.changes == provider_pb2.DiffResponse.DIFF_NONE


# --- Check ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("prop", "value", "message"), [
    ("base_url", "ftp://pod", "not an http(s) URL"),
    ("served_model_name", "", "--served-model-name"),
    ("timeout_s", -5, "positive number"),
    ("image_check", "yes", "true or false"),
    ("triggers", "pod-1", "must be a list"),
    ("api_key", "a key with spaces", API_KEY_SETTING),
])
def test_check_names_the_bad_property(host, prop, value, message):
    _, failures = host.check({**props("http://127.0.0.1:9"), prop: value})
    assert [p for p, _ in failures] == [prop]
    assert message in failures[0][1]
    assert "a key with spaces" not in failures[0][1]


def test_check_accepts_good_and_unknown_inputs(host):
    inputs, failures = host.check(props("http://127.0.0.1:9/v1", api_key=KEY))
    assert failures == []
    assert inputs["base_url"] == "http://127.0.0.1:9/v1"
    _, failures = host.check(props(rpc.UNKNOWN, triggers=[rpc.UNKNOWN]))  # preview: the pod has no URL yet
    assert failures == []


# --- Create ------------------------------------------------------------------------------------------


def test_create_healthy_outputs_the_report(host):
    with FakeVllm() as fake:
        id_, outs = host.create(props(fake.v1_url))
    assert id_.startswith("vllm-health-")
    assert outs["healthy"] is True and outs["status"] == "healthy"
    assert outs["served_model"] == MODEL and outs["max_model_len"] == 25480  # numbers come back as floats
    assert outs["vllm_version"] == "0.12.0"
    assert set(outs["latencies_ms"]) == {"health", "version", "models", "chat", "image"}
    assert outs["seconds_to_ready"] <= outs["seconds_to_healthy"]
    assert outs["base_url"] == fake.v1_url and outs["triggers"] == ["pod-1", "image@sha256:aaa"]
    assert outs.get("api_key_fingerprint") is None  # None-valued outputs are dropped by the host
    assert len(fake.requests_to("/v1/chat/completions")) == 2


def test_create_with_the_api_key_keeps_it_out_of_outputs_and_logs(host):
    with FakeVllm(api_key=KEY) as fake:
        _, outs = host.create(props(fake.base_url, api_key=KEY))
    assert outs["healthy"] is True
    assert "api_key" not in outs
    assert outs["api_key_fingerprint"].startswith("sha256$")
    assert fake.requests_to("/v1/models")[0].headers["authorization"] == f"Bearer {KEY}"
    assert_no_secret(outs, host.stderr())


@pytest.mark.parametrize(("sent", "expected"), [(None, "none was sent"), (NEW_KEY, "rejected the API key")])
def test_create_with_a_missing_or_wrong_key_names_the_setting(host, sent, expected):
    extra = {} if sent is None else {"api_key": sent}
    with FakeVllm(api_key=KEY) as fake, pytest.raises(HostError) as info:
        host.create(props(fake.base_url, **extra))
    assert "HealthCheckFailed" in info.value.message and "step 'models'" in info.value.message
    assert expected in info.value.message and API_KEY_SETTING in info.value.message
    assert_no_secret(info.value.details, host.stderr())


def test_create_fails_with_the_diagnosis_on_a_dead_engine(host):
    with FakeVllm(dead_engine=True) as fake, pytest.raises(HostError) as info:
        host.create(props(fake.base_url))
    message = info.value.message
    assert "step 'chat'" in message and "answered 500" in message and "last answer: HTTP 500" in message


def test_create_fails_on_a_rejected_image_unless_image_check_is_off(host):
    with FakeVllm(reject_images=True) as fake:
        with pytest.raises(HostError, match="step 'image'"):
            host.create(props(fake.base_url))
        _, outs = host.create(props(fake.base_url, image_check=False))
    assert outs["healthy"] is True and "image" not in outs["latencies_ms"]


def test_create_fails_on_the_wrong_model(host):
    with FakeVllm(served_model_name="other-model") as fake, pytest.raises(HostError) as info:
        host.create(props(fake.base_url))
    assert "step 'models'" in info.value.message and "'other-model'" in info.value.message


def test_create_waits_for_a_slow_start(host):
    with FakeVllm(load_delay_s=1.0) as fake:
        _, outs = host.create(props(fake.base_url, timeout_s=5))
    assert outs["healthy"] is True and outs["seconds_to_ready"] >= 1.0 and outs["health_polls"] > 2


def test_create_never_ready_fails_at_the_deadline(host):
    with FakeVllm(load_delay_s=60) as fake, pytest.raises(HostError) as info:
        t0 = time.monotonic()
        try:
            host.create(props(fake.base_url, timeout_s=2))
        finally:
            wall = time.monotonic() - t0
    assert "step 'health'" in info.value.message and "within 2 s" in info.value.message
    assert 2.0 <= wall < 3.5


def test_create_disabled_skips_without_any_request(host):
    with FakeVllm() as fake:
        _, outs = host.create(props(fake.base_url, enabled=False, api_key=KEY))
    assert fake.requests == []
    assert outs["status"] == "skipped" and outs["healthy"] is False and outs["enabled"] is False
    assert_no_secret(outs)


# --- Diff, Update, Read, Delete ------------------------------------------------------------------------


@pytest.fixture
def created(host) -> Iterator[tuple[FakeVllm, str, dict, dict]]:
    """A healthy resource created with the API key: (fake, id, inputs, outputs)."""
    with FakeVllm(api_key=KEY) as fake:
        inputs = props(fake.base_url, api_key=KEY)
        id_, outs = host.create(inputs)
        yield fake, id_, inputs, outs


def test_diff_is_empty_when_nothing_changed(host, created):
    _, id_, inputs, outs = created
    assert no_changes(host.diff(id_, outs, inputs))


@pytest.mark.parametrize("change", [
    {"triggers": ["pod-2", "image@sha256:aaa"]},  # a new pod
    {"triggers": ["pod-1", "image@sha256:bbb"]},  # a new image
    {"api_key": NEW_KEY},
    {"api_key": None},
    {"served_model_name": "autoglm-phone-9b-multilingual"},
    {"image_check": False},
    {"enabled": False},
    {"base_url": rpc.UNKNOWN},  # the pod is being replaced: its URL is unknown in preview
])
def test_diff_sees_each_change(host, created, change):
    _, id_, inputs, outs = created
    resp = host.diff(id_, outs, {**inputs, **change})
    assert resp.changes == provider_pb2.DiffResponse.DIFF_SOME
    assert list(resp.replaces) == []


def test_update_reprobes_a_new_pod(host, created):
    fake, id_, inputs, outs = created
    before = len(fake.requests)
    news = {**inputs, "triggers": ["pod-2", "image@sha256:aaa"]}
    new_outs = host.update(id_, outs, news)
    assert new_outs["healthy"] is True and new_outs["triggers"] == news["triggers"]
    assert len(fake.requests) > before
    assert no_changes(host.diff(id_, new_outs, news))


def test_update_after_key_rotation_probes_with_the_new_key(host, created):
    fake, id_, inputs, outs = created
    fake.behaviour.api_key = NEW_KEY
    news = {**inputs, "api_key": NEW_KEY}
    new_outs = host.update(id_, outs, news)
    assert new_outs["healthy"] is True
    assert new_outs["api_key_fingerprint"] != outs["api_key_fingerprint"]
    assert no_changes(host.diff(id_, new_outs, news))
    assert fake.requests_to("/v1/models")[-1].headers["authorization"] == f"Bearer {NEW_KEY}"
    assert_no_secret(new_outs, host.stderr())


def test_update_raises_when_the_server_broke(host, created):
    fake, id_, inputs, outs = created
    fake.behaviour.dead_engine = True
    with pytest.raises(HostError, match="step 'chat'"):
        host.update(id_, outs, {**inputs, "triggers": ["pod-1", "image@sha256:ccc"]})


def test_disable_then_enable_probes_again(host, created):
    fake, id_, inputs, outs = created
    count = len(fake.requests)
    stopped = host.update(id_, outs, {**inputs, "enabled": False})
    assert stopped["status"] == "skipped" and len(fake.requests) == count
    assert no_changes(host.diff(id_, stopped, {**inputs, "enabled": False}))
    assert not no_changes(host.diff(id_, stopped, inputs))
    started = host.update(id_, stopped, inputs)
    assert started["status"] == "healthy" and started["healthy"] is True
    assert len(fake.requests) > count


def test_read_and_delete_make_no_request(host, created):
    fake, id_, _, outs = created
    count = len(fake.requests)
    read_id, read_outs = host.read(id_, outs)
    assert read_id == id_ and read_outs["healthy"] is True
    host.delete(id_, outs)
    assert len(fake.requests) == count


# --- under Pulumi mocks ---------------------------------------------------------------------------------


@pulumi.runtime.test
def test_resource_registers_the_key_as_secret(pulumi_mocks):
    pulumi_mocks.hooks[TOKEN] = lambda args: {"healthy": True, "status": "healthy"}
    check = HealthCheck("health", HealthCheckArgs(
        base_url="https://pod-8000.proxy.runpod.net", served_model_name=MODEL, api_key=KEY,
        triggers=["pod-1", "image@sha256:aaa"], timeout_s=600))

    def verify(values: list) -> None:
        healthy, status, base_url = values
        assert (healthy, status, base_url) == (True, "healthy", "https://pod-8000.proxy.runpod.net")
        (registered,) = pulumi_mocks.of_type(TOKEN)
        assert rpc.is_rpc_secret(registered.inputs["api_key"])
        assert rpc.unwrap_rpc_secret(registered.inputs["api_key"]) == KEY
        assert registered.inputs["timeout_s"] == 600 and registered.inputs["image_check"] is True
        assert registered.inputs["triggers"] == ["pod-1", "image@sha256:aaa"]

    return pulumi.Output.all(check.healthy, check.status, check.base_url).apply(verify)


@pulumi.runtime.test
def test_resource_without_a_key_sends_none(pulumi_mocks):
    check = HealthCheck("health", HealthCheckArgs(base_url="http://h:8000", served_model_name=MODEL,
                                                  enabled=False))

    def verify(_: object) -> None:
        (registered,) = pulumi_mocks.of_type(TOKEN)
        assert "api_key" not in registered.inputs and registered.inputs["enabled"] is False
        assert registered.inputs["triggers"] == []

    return check.base_url.apply(verify)


def test_reprs_of_checked_inputs_and_a_probe_run_hide_the_key() -> None:
    from components.health.probing import Polling, _Run
    from components.health.resource import HEALTH_INPUTS
    from components.health.target import Target
    from components.waiting import Deadline

    key = "vk-SECRET-0123456789abcdef"
    inputs = HEALTH_INPUTS.parse({"base_url": "https://p-8000.proxy.runpod.net", "served_model_name": "m",
                                  "api_key": key})
    run = _Run(Target.of("https://p-8000.proxy.runpod.net", key), "m", 90.0, Polling(), print, Deadline(1.0))
    assert key not in repr(inputs) and key not in repr(run)
