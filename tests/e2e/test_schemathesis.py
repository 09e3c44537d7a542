"""schemathesis over the whole OpenAPI document of a real `practica serve` process.

Every check schemathesis has, on every operation, for a bounded time: through all its
phases (examples, coverage, fuzzing, stateful) with a fixed seed on a server without an
admin token and on one with it (sent with every request, so the alias PUT is exercised
too), then once more on the second with a random seed that a failure names, fuzzing and
stateful only (the other two phases do not depend on the seed). Any finding fails the test,
except those `schemathesis_config` states with why.
"""

import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port, practica_command, wait_until_ready
from training import CATALOG, ModelSpec
from training.schemas import ImageInput

pytestmark = pytest.mark.e2e

FIXED_SEED = 20261202
ALL_PHASES = "examples,coverage,fuzzing,stateful"
# The server answers 504 past PRACTICA_INFERENCE_TIMEOUT_S (30 s by default); the slowest
# schema-valid requests (1,000 instances of a neural model) take seconds on two cores.
MAX_RESPONSE_TIME_S = 30
SEED_VARIABLE = "PRACTICA_TEST_SCHEMATHESIS_SEED"  # replays a random-seed run's seed
ADMIN_TOKEN = "schemathesis-admin-token"
_ERROR_EVENTS = frozenset({"Interrupted", "NonFatalError", "FatalError"})


@dataclass(frozen=True)
class Finding:
    code: str
    title: str
    operation: str
    message: str
    check: str
    scenario: str | None  # the coverage phase's scenario that generated the case

    def __str__(self) -> str:
        return f"{self.code} {self.title}: {self.operation}\n    " + self.message.replace(
            "\n", "\n    "
        )


@dataclass(frozen=True)
class Run:
    command: list[str]
    returncode: int
    output: str
    wall_s: float
    cases: int
    findings: list[Finding]
    errors: list[str]


def schemathesis_config() -> str:
    """Per-operation expectations, in schemathesis.toml's format."""
    image_models = "|".join(
        spec.name
        for spec in CATALOG
        if isinstance(spec, ModelSpec) and issubclass(spec.input_schema, ImageInput)
    )
    accepted = ["2xx", "3xx", 401, 403, 404, 409, 429, "5xx"]  # schemathesis's default
    return f"""
# JSON Schema cannot say "the bytes of a JPEG, PNG, WebP or GIF image": a schema-valid
# upload or base64 string is almost never one, and the server answers 415 (not an image
# format it reads) or 422 (empty, truncated or over the limits), naming why.
[[operations]]
include-path-regex = "^/(classify/({image_models})|v1/models/({image_models})/predict)$"
checks.positive_data_acceptance.expected-statuses = {json.dumps([*accepted, 415, 422])}

# JSON Schema cannot say "rectangular, no all-zero column" of a contingency table (its
# rows' "no all-zero row" it states); a table that is neither has no chi-squared
# statistic and is answered 422, naming the rows or columns.
[[operations]]
include-path = "/v1/models/titanic-chi2/predict"
checks.positive_data_acceptance.expected-statuses = {json.dumps([*accepted, 422])}

# The Open Inference Protocol's infer body is every model's: the tensors a named model
# takes (names, shapes, datatypes) are in its metadata (GET /v2/models/{{name}}), which one
# schema shared by every model cannot state; others are answered 400 naming the mismatch.
[[operations]]
include-path-regex = "^/v2/models/.+/infer$"
checks.positive_data_acceptance.expected-statuses = {json.dumps([*accepted, 400])}
"""


@dataclass(frozen=True)
class Scenario:
    admin_token: str | None
    seed: int | None  # None: a random seed, named in the failure message
    phases: str
    max_time_s: int  # schemathesis repeats fuzzing and stateful tests until it is spent

    def resolved_seed(self) -> int:
        if self.seed is not None:
            return self.seed
        replay = os.environ.get(SEED_VARIABLE)
        return int(replay) if replay else random.SystemRandom().randrange(2**32)


SCENARIOS = {
    "no-admin-token": Scenario(None, FIXED_SEED, ALL_PHASES, max_time_s=90),
    "admin-token": Scenario(ADMIN_TOKEN, FIXED_SEED, ALL_PHASES, max_time_s=90),
    "admin-token-random-seed": Scenario(ADMIN_TOKEN, None, "fuzzing,stateful", max_time_s=60),
}


@pytest.fixture(params=list(SCENARIOS.values()), ids=list(SCENARIOS))
def scenario(request: pytest.FixtureRequest) -> Scenario:
    chosen: Scenario = request.param
    return chosen


@pytest.fixture
def serving(scenario: Scenario, trained_home: Path, tmp_path: Path) -> Iterator[str]:
    """`practica serve` on a private copy of the smoke-trained home; yields its URL."""
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    # The developer's own PRACTICA_* settings (a token, another database) would change
    # the document under test: the server gets only these.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRACTICA_")}
    env |= {"PRACTICA_HOME": str(home), "PRACTICA_ALIAS_POLL_S": "0.3"}
    if scenario.admin_token is not None:
        env["PRACTICA_ADMIN_TOKEN"] = scenario.admin_token
    port = free_port()
    with (tmp_path / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [*practica_command(), "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(url, process)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=20)


def run_schemathesis(url: str, scenario: Scenario, seed: int, workdir: Path) -> Run:
    config = workdir / "schemathesis.toml"
    config.write_text(schemathesis_config())
    report = workdir / "events.ndjson"
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file", str(config),
        "run", f"{url}/openapi.json",
        "--checks", "all",
        "--phases", scenario.phases,
        "--max-time", str(scenario.max_time_s),
        "--max-response-time", str(MAX_RESPONSE_TIME_S),
        "--seed", str(seed),
        # One worker: CPython 3.11 keeps the AST module's recursion depth per process, and
        # two workers compiling at once stop a case with "AST constructor recursion depth
        # mismatch" (a SystemError in schemathesis's process, not a server fault).
        "--workers", "1",
        # Longer than the server's own inference timeout: a model call that overruns comes
        # back as the server's 504, not as a client-side timeout.
        "--request-timeout", str(2 * MAX_RESPONSE_TIME_S),
        "--continue-on-failure",  # a tolerated finding must not hide the next one
        "--generation-database", "none",
        "--report", "ndjson", "--report-ndjson-path", str(report),
        "--no-color",
    ]  # fmt: skip
    if scenario.admin_token is not None:
        command += ["--header", f"Authorization: Bearer {scenario.admin_token}"]
    started = time.monotonic()
    finished = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=scenario.max_time_s + 240
    )
    wall_s = time.monotonic() - started
    findings, errors = read_report(report) if report.exists() else ([], ["no report written"])
    generated = re.search(r"(\d+) generated", finished.stdout)
    return Run(
        command=command,
        returncode=finished.returncode,
        output=finished.stdout + finished.stderr,
        wall_s=wall_s,
        cases=int(generated[1]) if generated else 0,
        findings=findings,
        errors=errors,
    )


def read_report(path: Path) -> tuple[list[Finding], list[str]]:
    """The run's unique failed checks, and its errors, from its NDJSON event stream."""
    findings: dict[tuple[str, str, str], Finding] = {}
    errors: list[str] = []
    for line in path.read_text().splitlines():
        [(kind, event)] = json.loads(line).items()
        if kind in _ERROR_EVENTS:
            errors.append(f"{kind}: {json.dumps(event)[:2000]}")
            continue
        if kind not in ("ScenarioFinished", "FuzzScenarioFinished"):
            continue
        recorder = event["recorder"]
        for case_id, checks in recorder.get("checks", {}).items():
            case = recorder.get("cases", {}).get(case_id, {}).get("value", {})
            phase_data = ((case.get("meta") or {}).get("phase") or {}).get("data") or {}
            for check in checks:
                if check.get("status") != "failure":
                    continue
                failure = check["failure_info"]["failure"]
                finding = Finding(
                    code=failure["code"],
                    title=failure["title"],
                    operation=failure["operation"],
                    message=failure["message"],
                    check=check["name"],
                    scenario=phase_data.get("scenario"),
                )
                findings.setdefault((finding.code, finding.operation, finding.message), finding)
    return list(findings.values()), errors


def failure_message(run: Run, scenario: Scenario, seed: int, faults: list[Finding]) -> str:
    shown = " ".join(_shown(part) for part in run.command)
    replay = f" (replay it: {SEED_VARIABLE}={seed})" if scenario.seed is None else ""
    details = run.output[run.output.find("FAILURES") :] if "FAILURES" in run.output else ""
    return "\n".join(
        [
            f"schemathesis, seed {seed}{replay}: {len(faults)} fault(s), {len(run.errors)} "
            f"error(s), exit code {run.returncode}, {run.cases} cases in {run.wall_s:.0f} s:",
            *(f"- {fault}" for fault in faults),
            *(f"- {error}" for error in run.errors),
            f"command: {shown}",
            details[-20_000:] or run.output[-5_000:],
        ]
    )


def _shown(word: str) -> str:
    if word.startswith("Authorization"):
        return "'Authorization: Bearer <PRACTICA_ADMIN_TOKEN>'"
    return f"'{word}'" if " " in word else word


def test_schemathesis_finds_no_fault(scenario: Scenario, serving: str, tmp_path: Path) -> None:
    seed = scenario.resolved_seed()
    workdir = tmp_path / "schemathesis"
    workdir.mkdir()
    run = run_schemathesis(serving, scenario, seed, workdir)
    message = failure_message(run, scenario, seed, run.findings)
    message += f"\nserver log: {tmp_path / 'server.log'}"
    assert not run.findings, message
    assert not run.errors, message
    assert run.cases > 0, message
    assert run.returncode == 0, message  # a crash or a usage error fails too
