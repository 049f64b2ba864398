"""Why a connection to the server failed, and whether waiting can help. No Pulumi import.

A pod's server is "not yet" for many minutes: vLLM refuses connections until the model is loaded, and RunPod's
proxy answers 502 meanwhile. A wrong URL is never "not yet": a name that does not resolve or a TLS handshake
that fails will not heal by waiting, so the probe fails at once with what to check. A refused connection is
"not yet" on this machine (a local server starting) but, on another host, means nothing listens there: RunPod's
proxy always accepts connections, so that is given only a grace period before the probe gives up.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

import requests

from components.runpod.credentials import is_loopback

__all__ = ["ConnectFailure", "Outlook", "connect_failure", "describe"]

POD_URL_HINT = "a pod answers at https://<podId>-8000.proxy.runpod.net (`pulumi stack output base_url`)"
# getaddrinfo's answers that a name does not exist (NXDOMAIN, no address), as against a lookup that failed for
# now (EAI_AGAIN); EAI_NODATA is missing on some platforms.
_NO_SUCH_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME), socket.EAI_FAIL}


class Outlook(Enum):
    NOT_YET = "not yet"  # the server may still be starting: keep polling until the deadline
    FOR_A_WHILE = "for a while"  # maybe a passing fault: keep polling only for the grace period
    HOPELESS = "hopeless"  # waiting cannot help: fail now


@dataclass(frozen=True)
class ConnectFailure:
    note: str  # what was seen, short and whole: progress lines and the final reason quote it
    outlook: Outlook
    advice: str = ""  # what to check when it ends the wait


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and what caused it, outermost first: requests wraps urllib3's MaxRetryError, whose `reason`
    wraps the socket or TLS error."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        first_arg = current.args[0] if current.args else None
        current = (reason if isinstance(reason, BaseException) else
                   first_arg if isinstance(first_arg, BaseException) else
                   current.__cause__ or current.__context__)


def describe(error: BaseException) -> str:
    """The innermost readable reason, e.g. `[Errno 111] Connection refused`, instead of urllib3's wrapper text
    (`HTTPSConnectionPool(host=…): Max retries exceeded … (Caused by …)`)."""
    root = list(_chain(error))[-1]
    if isinstance(root, ssl.SSLCertVerificationError) and root.verify_message:
        return f"certificate verify failed: {root.verify_message}"
    if isinstance(root, ssl.SSLError) and len(root.args) > 1:
        return str(root.args[1]).split(" (_ssl.c")[0]
    if isinstance(root, OSError) and root.strerror:
        return root.strerror
    return str(root) or type(root).__name__


def connect_failure(error: requests.RequestException, url: str) -> ConnectFailure:
    """What a failed connection to `url` means for a wait."""
    parts = urlsplit(url)
    host = parts.hostname or url
    where = f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    chain = list(_chain(error))
    lookup = next((e for e in chain if isinstance(e, socket.gaierror)), None)
    if lookup is not None:
        note = f"{host} does not resolve ({describe(error)})"
        if lookup.errno in _NO_SUCH_NAME:
            return ConnectFailure(note, Outlook.HOPELESS, f"check the host name in the URL: {POD_URL_HINT}")
        return ConnectFailure(note, Outlook.FOR_A_WHILE, "check this machine's DNS, and the host name in the URL")
    if isinstance(error, requests.exceptions.SSLError) or any(isinstance(e, ssl.SSLError) for e in chain):
        return ConnectFailure(f"TLS with {where} failed ({describe(error)})", Outlook.HOPELESS,
                              "is the scheme right? https:// to a plain-http server (or to the wrong port) fails "
                              f"this way; {POD_URL_HINT}")
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        if is_loopback(host):
            return ConnectFailure("connection refused", Outlook.NOT_YET)
        return ConnectFailure(f"connection refused by {where}", Outlook.FOR_A_WHILE,
                              "nothing listens there; check the host and port in the URL (RunPod's proxy accepts "
                              f"connections even while vLLM loads): {POD_URL_HINT}")
    return ConnectFailure(f"connection error: {describe(error)}", Outlook.NOT_YET)
