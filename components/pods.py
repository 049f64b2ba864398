"""The project's pods on RunPod, listed and swept.

    python -m components.pods list [--stack STACK]
    python -m components.pods sweep [--stack STACK] [--keep POD_ID ...] [--yes]

Only pods whose name carries the project prefix (`autoglm-runpod-`) are ever listed or touched; with
`--stack STACK`, only the pods named exactly as that stack names its pod (`autoglm-runpod-STACK-autoglm-pod`,
or `…-creating` while a create has not finished: left by an interrupted `pulumi up`, see components.names),
so `--stack dev` never touches stack `dev-eu`. `sweep` shows what it would terminate (every such pod not
kept) and terminates only with `--yes`. Keep a stack's live pod with `--keep $(pulumi stack output pod_id)`.
The key comes from `RUNPOD_API_KEY` (the URL from `RUNPOD_API_URL`, for tests). Exit status: 0 done,
1 RunPod refused or a terminate failed, 2 bad arguments or timing variables.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from components.commands import COMMAND_SOURCES, fail, run
from components.names import NAME_PREFIX, provisional_name, stack_pod_name
from components.providers.deleting import RETRIED, delete_until_gone
from components.runpod import PodInfo, RunPodClient
from components.runpod.pods import age_s


class SweepRefused(Exception):
    """A sweep that could end a pod the user meant to keep."""


def is_ours(name: str, stack: str | None) -> bool:
    """Without a stack: any name with the project prefix. With one: exactly that stack's pod name, final or
    provisional; a prefix would let stack `dev` match stack `dev-eu`'s pods."""
    if stack is None:
        return name.startswith(NAME_PREFIX)
    return name in (stack_pod_name(stack), provisional_name(stack_pod_name(stack)))


def project_pods(client: RunPodClient, stack: str | None = None) -> list[PodInfo]:
    """This project's pods (see `is_ours`), oldest first; other pods are never returned."""
    return sorted((p for p in client.pods.list() if is_ours(p.name, stack)), key=lambda p: p.created_at or "")


def age(created_at: str | None, now: datetime) -> str:
    seconds = age_s(created_at, now)
    if seconds is None:
        return "?"
    days, rest = divmod(max(int(seconds), 0), 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d{hours:02d}h" if days else f"{hours}h{rest // 60:02d}m"


def table(pods: Sequence[PodInfo], now: datetime) -> str:
    rows = [("ID", "NAME", "STATUS", "GPU", "$/H", "AGE")]
    rows += [(p.id, p.name, p.status, f"{p.gpu_count or 1}x {p.gpu_type_id or '-'}", f"{p.cost_per_hr:.2f}",
              age(p.created_at, now)) for p in pods]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    total = sum(p.cost_per_hr for p in pods)
    return "\n".join([*lines, f"{len(pods)} pod(s), billing ${total:.2f}/h now"])


def list_command(client: RunPodClient, stack: str | None) -> int:
    pods = project_pods(client, stack)
    if not pods:
        print(f"no pods named {_matched(stack)} in this RunPod account")
        return 0
    print(table(pods, datetime.now(UTC)))
    return 0


def sweep_command(client: RunPodClient, stack: str | None, keep: Sequence[str], yes: bool) -> int:
    pods = project_pods(client, stack)
    unknown = sorted(set(keep) - {p.id for p in pods})
    if unknown:
        # A mistyped --keep would end the very pod it meant to keep.
        raise SweepRefused(f"--keep {' '.join(unknown)} matches no pod named {_matched(stack)}: check the id "
                           "(`python -m components.pods list`); nothing was terminated")
    doomed = [p for p in pods if p.id not in keep]
    if not doomed:
        print(f"nothing to sweep: no pod named {_matched(stack)} besides the ones kept")
        return 0
    print(("terminating" if yes else "would terminate") + f" {len(doomed)} pod(s):")
    print(table(doomed, datetime.now(UTC)))
    if not yes:
        print("dry run: nothing was terminated; add --yes to terminate them")
        return 0
    failed = [pod for pod in doomed if not _terminated(client, pod)]
    return 1 if failed else 0


def _terminated(client: RunPodClient, pod: PodInfo) -> bool:
    """Terminate until RunPod confirms (one failed DELETE proves nothing), and say what the last look showed."""
    ended = delete_until_gone(lambda: client.pods.terminate(pod.id), lambda: client.pods.get(pod.id),
                              retried=RETRIED, gone=lambda p: p.status == "TERMINATED")
    if ended.confirmed:
        print(f"terminated {pod.id} ({pod.name})" if ended.outcome == "deleted" else
              f"{pod.id} ({pod.name}) was already gone")
        return True
    still = (f"RunPod still shows it {ended.last.status}, billing ${ended.last.cost_per_hr:.2f}/h"
             if ended.last is not None else "it may still exist and bill")
    print(f"error: could not terminate {pod.id} ({pod.name}): {ended.error}; {still}. Run the sweep again, or "
          "end it in RunPod's console", file=sys.stderr)
    return False


def _matched(stack: str | None) -> str:
    """How the matched names read in messages: `autoglm-runpod-*`, or the stack's exact pod name."""
    return stack_pod_name(stack) if stack else f"{NAME_PREFIX}*"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m components.pods",
                                description=f"List or sweep this project's RunPod pods (named {NAME_PREFIX}*).")
    commands = p.add_subparsers(dest="command", required=True)
    for name, help_text in (("list", "print the project's pods: id, name, status, GPU, $/h, age"),
                            ("sweep", "terminate the project's pods except the kept ones (dry run without --yes)")):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--stack", help=f"only this stack's pods: named exactly {stack_pod_name('STACK')} "
                                         "(so --stack dev never matches stack dev-eu's pods), or that name with "
                                         "-creating while a create has not finished")
        if name == "sweep":
            sub.add_argument("--keep", nargs="+", default=[], metavar="POD_ID", help="pods to leave alone")
            sub.add_argument("--yes", action="store_true", help="really terminate (otherwise only list them)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)

    def body() -> int:
        client = RunPodClient.from_env(sources=COMMAND_SOURCES)
        if args.command == "list":
            return list_command(client, args.stack)
        try:
            return sweep_command(client, args.stack, args.keep, args.yes)
        except SweepRefused as e:
            return fail(str(e))

    return run(body)


if __name__ == "__main__":
    sys.exit(main())
