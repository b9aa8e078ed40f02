"""The team stack on a swarm (./bench/swarm.sh, root): what a team waits for
with ./scripts/swarm-deploy.sh, each against the raw `docker stack deploy`
on the same stack file, with the same variables, in the same run.

On a three-node swarm of namespaced engines, built as the swarm tests build
it (tests/support/swarm.py: node1 holds PostgreSQL and Redis, node2 and
node3 serve Langfuse), each round measures, the scripts and the baseline
alternating (A B, B A, ...):

- fresh: no stack and empty volumes -> every service healthy.
  `./scripts/swarm-deploy.sh` (it returns once converged) against
  `docker stack deploy` and then `docker service ls` polled every second
  until every service shows all its replicas (a swarm task counts as
  running only once its healthcheck passed).
- update: a rolling Langfuse update (LANGFUSE_DISABLE_SIGNUP flipped: a new
  task on each node, one node at a time) -> done. The baseline polls
  `docker service ls` and the service's UpdateStatus every second until
  every service shows all its replicas and the update says completed.
- during every update, one client per Langfuse node GETs
  /api/public/health through that node's published port every 100 ms. A
  node's own replacement fails its requests (one replica per node, no load
  balancer here); what counts is a failure through the other node while
  the one being updated fails: the target is 0.

    python -m transbench.swarm [--quick] [--repeat N] [--publish NAME]
    python -m transbench.swarm poll URL STOP_FILE   (the client, run in a node's namespace)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from support.engine import REPO_ROOT, test_images
from support.stack import Stack, copy_repository
from support.swarm import NETNS_DIR, Swarm

from .common import BASELINE, BENCH_DIR, SCRIPTS, log, median, paired_ratio, write_published_file
from .machine import image_mode, load_average, machine

STACK = "transbot"
LABELS = {
    "node1": ["transbot.postgres=true", "transbot.redis=true"],
    "node2": ["transbot.langfuse=true"],
    "node3": ["transbot.langfuse=true"],
}
LANGFUSE_NODES = ("node2", "node3")
LANGFUSE_PORT = "3000"
STACK_FILE = "deploy/swarm/stack.yml"
# What the stack file reads from the environment besides the secrets' names
# and CONFIGS_VERSION (scripts/lib/swarm.sh, SWARM_SETTINGS).
SETTINGS = ("POSTGRES_IMAGE", "LANGFUSE_IMAGE", "REDIS_IMAGE", "LANGFUSE_REPLICAS", "LANGFUSE_PORT", "LANGFUSE_URL",
            "POSTGRES_USER", "POSTGRES_DB", "REDIS_APPENDFSYNC", "LANGFUSE_ADMIN_EMAIL", "LANGFUSE_DISABLE_SIGNUP",
            "LANGFUSE_PUBLIC_KEY")
POLL_SECONDS = 1.0  # the baseline's polling, as swarm-deploy.sh's own
TIMEOUT_S = 300
OTHER_NODE_FAILURES_TARGET = 0
RESULTS_DIR = BENCH_DIR / "results"
LATEST = RESULTS_DIR / "latest-swarm.md"


# --- The client in a node's namespace ----------------------------------------------

def poll(url: str, stop_file: str) -> int:
    """GETs URL every 100 ms until STOP_FILE exists; prints JSON: the
    number of requests and the time of every failure."""
    requests, failures = 0, []
    while not os.path.exists(stop_file):
        requests += 1
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status != 200:
                    failures.append(time.time())
        except Exception:  # noqa: BLE001 - every kind of failure counts
            failures.append(time.time())
        time.sleep(0.1)
    print(json.dumps({"requests": requests, "failures": failures}))
    return 0


def other_node_failures(seen: dict[str, dict]) -> int:
    """Failures through one node while the other one failed too: a node
    failing is the node being updated, so these are failures through the
    node that was not (each node's own failures span [first, last])."""
    spans = {node: (min(data["failures"]), max(data["failures"])) for node, data in seen.items() if data["failures"]}
    count = 0
    for node, data in seen.items():
        for other, (first, last) in spans.items():
            if other != node:
                count += sum(1 for moment in data["failures"] if first <= moment <= last)
    return count


# --- The swarm and the stack -------------------------------------------------------

class TeamBench:
    def __init__(self, swarm: Swarm, root: Path, images: dict[str, str]):
        self.swarm, self.root, self.images = swarm, root, images
        self.signup = "false"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if key not in ("DOCKER_CONTEXT", "COMPOSE_PROJECT_NAME", "NO_COLOR")}
        env.update({"DOCKER_HOST": self.swarm.manager.host, "POSTGRES_IMAGE": self.images["postgres"],
                    "REDIS_IMAGE": self.images["redis"], "LANGFUSE_IMAGE": self.images["langfuse"],
                    "LANGFUSE_PORT": LANGFUSE_PORT, "LANGFUSE_URL": f"http://localhost:{LANGFUSE_PORT}",
                    "LANGFUSE_DISABLE_SIGNUP": self.signup})
        env.update(overrides)
        return env

    def script(self, name: str, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([str(self.root / "scripts" / name), *args], capture_output=True, text=True,
                                timeout=TIMEOUT_S + 60, env=self.env(), stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise RuntimeError(f"{name} {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        return result

    def stack_variables(self) -> dict[str, str]:
        """What swarm-deploy.sh gave the stack file, for the baseline: the
        settings, the secrets' names (each password has one secret: older
        versions are pruned) and the configs' version, read back from what
        the scripts' deploy made."""
        settings = Stack(self.root, None, self.images).env_file()
        variables = {name: settings[name] for name in SETTINGS if settings.get(name)}
        manager = self.swarm.manager
        for secret in manager.docker("secret", "ls", "--format", "{{.Name}}", "--filter",
                                     f"label=transbot.stack={STACK}", check=True).stdout.split():
            name = secret[len(STACK) + 1:].rsplit("_", 1)[0].upper()
            variables[f"{name}_SECRET"] = secret
        configs = manager.docker("config", "ls", "--format", "{{.Name}}", "--filter",
                                 f"label=com.docker.stack.namespace={STACK}", check=True).stdout.split()
        variables["CONFIGS_VERSION"] = configs[0].rsplit("_", 1)[1]
        return variables

    def raw_deploy(self, variables: dict[str, str]) -> None:
        env = {**variables, **{key: value for key, value in self.env().items() if key in SETTINGS}}
        deployed = self.swarm.manager.docker("stack", "deploy", "--detach=true", "--resolve-image", "never",
                                             "--prune", "-c", str(self.root / STACK_FILE), STACK, env=env,
                                             timeout=TIMEOUT_S)
        if deployed.returncode != 0:
            raise RuntimeError(f"docker stack deploy failed:\n{deployed.stdout}{deployed.stderr}")

    def all_replicas(self) -> bool:
        # "2/2 (max 1 per node)": running/wanted first.
        listed = [line.split()[0] for line in self.swarm.manager.docker(
            "service", "ls", "--format", "{{.Replicas}}", "--filter",
            f"label=com.docker.stack.namespace={STACK}").stdout.splitlines() if line.strip()]
        return len(listed) == 3 and all(r.split("/")[0] == r.split("/")[1] for r in listed)

    def update_completed(self) -> bool:
        state = self.swarm.manager.docker("service", "inspect", "--format",
                                          "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}",
                                          f"{STACK}_langfuse").stdout.strip()
        return state == "completed"

    def wait(self, done) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while not done():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the baseline's stack did not converge within {TIMEOUT_S} s:\n"
                                   f"{self.swarm.diagnostics(STACK)}")
            time.sleep(POLL_SECONDS)

    def remove_with_data(self) -> None:
        self.script("swarm-remove.sh", "--delete-data", "--yes")

    def fresh(self, kind: str, variables: dict[str, str]) -> float:
        self.remove_with_data()
        began = time.monotonic()
        if kind == SCRIPTS:
            self.script("swarm-deploy.sh", "--timeout", str(TIMEOUT_S))
        else:
            self.raw_deploy(variables)
            self.wait(self.all_replicas)
        return time.monotonic() - began

    def update(self, kind: str, variables: dict[str, str]) -> tuple[float, dict[str, dict]]:
        self.signup = "true" if self.signup == "false" else "false"
        with tempfile.TemporaryDirectory(prefix="tbswarm-bench-") as folder:
            stop = Path(folder) / "stop"
            pollers = {node: self.poller(node, stop) for node in LANGFUSE_NODES}
            try:
                time.sleep(1)  # both clients polling before the update begins
                began = time.monotonic()
                if kind == SCRIPTS:
                    self.script("swarm-deploy.sh", "--timeout", str(TIMEOUT_S))
                else:
                    self.raw_deploy(variables)
                    time.sleep(POLL_SECONDS)  # the update's status is the old one's until the manager starts it
                    self.wait(lambda: self.all_replicas() and self.update_completed())
                seconds = time.monotonic() - began
            finally:
                stop.touch()
                seen = {node: json.loads(poller.communicate(timeout=30)[0]) for node, poller in pollers.items()}
        return seconds, seen

    def poller(self, node_name: str, stop: Path) -> subprocess.Popen:
        node = self.swarm.node(node_name)
        env = {**os.environ, "PYTHONPATH": f"{BENCH_DIR}:{REPO_ROOT / 'tests'}"}
        return subprocess.Popen(
            ["nsenter", f"--net={NETNS_DIR / node.netns}", sys.executable, "-m", "transbench.swarm", "poll",
             f"http://{node.address}:{LANGFUSE_PORT}/api/public/health", str(stop)],
            stdout=subprocess.PIPE, text=True, env=env)


def measure(repeat: int) -> dict:
    images = test_images()
    log("building the three-node swarm (tests/support/swarm.py)")
    swarm = Swarm.create(sorted(set(images.values())), LABELS)
    samples: dict = {"fresh": {SCRIPTS: [], BASELINE: []}, "update": {SCRIPTS: [], BASELINE: []}, "polls": []}
    try:
        with tempfile.TemporaryDirectory(prefix="tbswarm-bench-clone-") as folder:
            bench = TeamBench(swarm, copy_repository(Path(folder) / "repo"), images)
            bench.script("init-env.sh")
            log("warm-up deploy (creates the secrets the baseline uses too)")
            bench.script("swarm-deploy.sh", "--timeout", str(TIMEOUT_S))
            variables = bench.stack_variables()
            for round_number in range(repeat):
                order = (SCRIPTS, BASELINE) if round_number % 2 == 0 else (BASELINE, SCRIPTS)
                for kind in order:
                    seconds = bench.fresh(kind, variables)
                    samples["fresh"][kind].append(seconds)
                    log(f"round {round_number + 1}/{repeat}: fresh deploy, {kind}: {seconds:.1f} s")
                for kind in order:
                    seconds, seen = bench.update(kind, variables)
                    samples["update"][kind].append(seconds)
                    samples["polls"].append({"kind": kind, "seen": seen})
                    failed = {node: len(data["failures"]) for node, data in seen.items()}
                    log(f"round {round_number + 1}/{repeat}: rolling update, {kind}: {seconds:.1f} s; "
                        f"failed polls {failed}, through the other node {other_node_failures(seen)}")
            bench.remove_with_data()
    finally:
        swarm.destroy()
    return samples


def figures(samples: dict) -> dict:
    found = {}
    for key in ("fresh", "update"):
        measured, baseline = samples[key][SCRIPTS], samples[key][BASELINE]
        found[key] = {"scripts_s": median(measured), "baseline_s": median(baseline),
                      "ratio": paired_ratio(measured, baseline),
                      "scripts_range_s": [min(measured), max(measured)],
                      "baseline_range_s": [min(baseline), max(baseline)]}
    polls = samples["polls"]
    found["polls"] = {
        "updates": len(polls),
        "requests": sum(data["requests"] for p in polls for data in p["seen"].values()),
        "failed": sum(len(data["failures"]) for p in polls for data in p["seen"].values()),
        "failed_through_other_node": sum(other_node_failures(p["seen"]) for p in polls),
    }
    return found


def table(found: dict) -> str:
    def pair(key: str) -> str:
        f = found[key]
        return (f"| {f['scripts_s']:.1f} s [{f['scripts_range_s'][0]:.1f}–{f['scripts_range_s'][1]:.1f}] "
                f"| {f['baseline_s']:.1f} s [{f['baseline_range_s'][0]:.1f}–{f['baseline_range_s'][1]:.1f}] "
                f"| {f['ratio']:.2f} |")
    polls = found["polls"]
    met = "yes" if polls["failed_through_other_node"] <= OTHER_NODE_FAILURES_TARGET else "**no**"
    return "\n".join([
        "| measurement | swarm-deploy.sh | docker stack deploy + polling | ratio |",
        "|---|---:|---:|---:|",
        "| fresh stack → every service healthy " + pair("fresh"),
        "| rolling Langfuse update → completed " + pair("update"),
        "",
        f"Health polled every 100 ms through both Langfuse nodes during {polls['updates']} rolling updates: "
        f"{polls['requests']} requests; failed through the node being updated "
        f"{polls['failed'] - polls['failed_through_other_node']}, through the other node "
        f"{polls['failed_through_other_node']} (target {OTHER_NODE_FAILURES_TARGET}: {met}).",
    ]) + "\n"


def published(found: dict, repeat: int, quick: bool, info: dict, load: str, images: dict[str, str]) -> dict:
    return {
        "label": "team stack, 3-node swarm",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "command": "./bench/swarm.sh --quick" if quick else f"./bench/swarm.sh --repeat {repeat}",
        "machine": f"{info['cpu']}, {info['memory']} RAM; {info['os']}; {info['python']}",
        "engine": f"{info['docker'].split(' (')[0]} (three dockerd in network namespaces of their own)",
        "images": image_mode(images),
        "load": load,
        "rounds": repeat,
        "targets": {"failed_through_other_node": OTHER_NODE_FAILURES_TARGET},
        "figures": found,
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["poll"]:
        return poll(argv[1], argv[2])
    parser = argparse.ArgumentParser(prog="bench/swarm.sh", description="The team stack on a three-node swarm: "
                                     "swarm-deploy.sh against docker stack deploy (see bench/README.md).")
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default: 3)")
    parser.add_argument("--publish", metavar="NAME", help="also write bench/results/NAME.json")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    if repeat < 1:
        parser.error("--repeat takes a whole number from 1")
    if args.publish and (args.quick or not args.publish.replace("-", "").replace(".", "").isalnum()
                         or args.publish != args.publish.lower() or args.publish == "latest"):
        parser.error("--publish takes a name of lower-case letters, digits, dots and dashes, and a full run")
    if os.geteuid() != 0:
        print("error: bench/swarm.sh builds a swarm of namespaced engines: run it as root", file=sys.stderr)
        return 2
    load_before = load_average()
    samples = measure(repeat)
    found = figures(samples)
    load = f"load average {load_before} before, {load_average()} after"
    text = table(found)
    print(text + f"\n({load})")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    LATEST.write_text(text + json.dumps(samples) + "\n")
    if args.publish:
        path = write_published_file(RESULTS_DIR / f"{args.publish}.json",
                                    published(found, repeat, args.quick, machine(), load, test_images()))
        print(f"wrote {path.relative_to(REPO_ROOT)}; now run python3 docs/generate.py")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
