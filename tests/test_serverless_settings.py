"""The serverless settings: defaults, bounds, the rule between workersMin and workersMax, and keys of the other
deployment refused unless they are at their default (the CLI fills schema defaults in for every stack)."""

from __future__ import annotations

import pytest

from components.settings import DEFAULTS, Settings, SettingsError, parse_settings
from components.settings.serverless import POD_ONLY, SERVERLESS_ONLY

BASE = {"gpuTypes": '["NVIDIA L40S"]', "imageRepository": "ghcr.io/acme/autoglm-vllm"}


def parse(**overrides: str) -> Settings:
    return parse_settings({**BASE, **overrides}, "dev")


def test_defaults_are_a_pod_and_a_small_scale_to_zero_endpoint() -> None:
    s = parse()
    assert s.deployment == "pod"
    assert (s.serverless.workers_min, s.serverless.workers_max, s.serverless.idle_timeout_s,
            s.serverless.requests_per_worker, s.serverless.flashboot) == (0, 2, 300, 4, True)
    assert parse(deployment="Serverless").deployment == "serverless"


@pytest.mark.parametrize(("key", "raw", "allowed"), [
    ("deployment", "lambda", "expected pod"),
    ("workersMin", "-1", "from 0 to 100"),
    ("workersMax", "0", "from 1 to 100"),
    ("idleTimeoutSeconds", "0", "from 1 to 3600"),
    ("idleTimeoutSeconds", "7200", "from 1 to 3600"),
    ("requestsPerWorker", "0", "from 1 to 1000"),
    ("flashboot", "on", "true or false"),
])
def test_bad_values_name_the_key(key: str, raw: str, allowed: str) -> None:
    with pytest.raises(SettingsError) as e:
        parse(**{"deployment": "serverless", key: raw})
    assert e.value.key == f"autoglm-runpod:{key}" and allowed in str(e.value)


def test_a_minimum_above_the_maximum_is_refused_with_both_named() -> None:
    with pytest.raises(SettingsError, match=r"autoglm-runpod:workersMin = '3' is not valid: it is above "
                                            r"autoglm-runpod:workersMax \(2\)"):
        parse(deployment="serverless", workersMin="3")


@pytest.mark.parametrize("key", sorted(POD_ONLY))
def test_a_pod_setting_away_from_its_default_is_refused_under_serverless(key: str) -> None:
    value = {"running": "false", "cloud": "COMMUNITY", "publicEndpoint": "true",
             "vllmApiKey": "a-key-of-twenty-chars"}[key]
    with pytest.raises(SettingsError, match=rf"autoglm-runpod:{key} = .* it applies to deployment pod only.*"
                                            rf"`pulumi config rm {key}`"):
        parse(deployment="serverless", **{key: value})


@pytest.mark.parametrize("key", SERVERLESS_ONLY)
def test_a_serverless_setting_away_from_its_default_is_refused_for_a_pod(key: str) -> None:
    value = "false" if key == "flashboot" else "7"
    with pytest.raises(SettingsError, match=rf"autoglm-runpod:{key} = '{value}' is not valid: it applies to "
                                            r"deployment serverless only"):
        parse(**{key: value})


def test_keys_at_their_defaults_pass_either_way_as_the_cli_fills_them_in() -> None:
    shown = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in DEFAULTS.items()}
    assert parse(**shown).deployment == "pod"
    assert parse(**{**shown, "deployment": "serverless", "cloud": "secure"}).deployment == "serverless"
