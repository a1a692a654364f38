"""The CI pipelines of a workspace (`ci:` in cmu610bsp.yml): every job and command they run,
decided here from the validated model; `templates/ci/` only lays them out in each CI system's
syntax, so the GitLab pipeline and the GitHub workflow run the same commands.

Jobs, in order: check, sync --check, a plan per product line, and per board x line it serves a
build of the board's QEMU twin, a smoke test of the flash image that build deployed (JUnit as the
CI system's test report) and its artifacts. The builds get the fleet's caches from CI variables
(docs/ci.md): an empty or unset variable passes no option. Nothing in a pipeline names a path of
one machine: paths are relative to the checkout, the rest comes from the variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cmu610bsp import __version__
from cmu610bsp.layout import BUILD_DIR, CI_FILES, FLASH_IMAGE, FLASH_MANIFEST, UPDATE_PACKAGE, BuildPaths, smoke_results
from cmu610bsp.names import TWIN_SUFFIX, machine_name
from cmu610bsp.project import Project

VENV = f"{BUILD_DIR}/ci/venv"  # below build/, which a workspace ignores (init's .gitignore)


@dataclass(frozen=True)
class Variable:
    """A CI variable the pipeline reads: the CI system's settings give it, else `default`."""

    name: str
    default: str
    description: str
    option: str = ""   # the `build` option it becomes, a shell fragment ("" for the tool's own)


def _opt(name: str, option: str, value: str | None = None) -> str:
    """`--option "$NAME"` when $NAME is set and not empty, else nothing (POSIX sh)."""
    return f'${{{name}:+{option} "{value or "$" + name}"}}'


VARIABLES = (
    Variable("CMU610BSP_PIP_SPEC", f"cmu610bsp=={__version__}",
             "what pip installs: the cmu610bsp that generated this pipeline (a version, a wheel, a git URL)"),
    Variable("CMU610BSP_VENV", VENV, "the virtual environment cmu610bsp is installed into (made when missing)"),
    Variable("CMU610_CACHE", "", "writable shared directory for downloads and shared state (build --cache)",
             _opt("CMU610_CACHE", "--cache")),
    Variable("CMU610_SSTATE_MIRROR", "", "shared-state mirror URL (build --sstate-mirror)",
             _opt("CMU610_SSTATE_MIRROR", "--sstate-mirror")),
    Variable("CMU610_HASHSERV", "", "hash-equivalence server HOST:PORT, `cmu610bsp cache serve` (build --hashserv)",
             _opt("CMU610_HASHSERV", "--hashserv")),
    Variable("CMU610_OPENBMC_SOURCE", "", "a local openbmc/openbmc checkout instead of cloning it (build --source)",
             _opt("CMU610_OPENBMC_SOURCE", "--source", "openbmc=$CMU610_OPENBMC_SOURCE")),
    Variable("CMU610_OFFLINE", "", "any value: BitBake fetches nothing from the network (build --offline)",
             "${CMU610_OFFLINE:+--offline}"),
)

# Each line a shell command, run before every job's own (the same shell: PATH is kept).
INSTALL = (
    'test -x "$CMU610BSP_VENV/bin/python" || python3 -m venv "$CMU610BSP_VENV"',
    '"$CMU610BSP_VENV/bin/python" -m pip install --quiet "$CMU610BSP_PIP_SPEC"',
)
# What the firmware build deploys and CI keeps (docs: "What a build produces").
DEPLOYED = (FLASH_IMAGE, FLASH_MANIFEST, UPDATE_PACKAGE, "bootstage.elf", "zephyr-cpu*.elf")
# The pipelines' paths are the build's and the smoke's own (layout.py), relative to the checkout.
HERE = Path()


@dataclass(frozen=True)
class ShellCommand:
    """One shell command, in parts a template may put on lines of their own."""

    parts: tuple[str, ...]

    @property
    def line(self) -> str:
        return " ".join(self.parts)


# A job of the matrix gets its product line and board in these variables (GitLab: the job's
# variables; GitHub: the matrix), so both systems run the very same commands.
LINE, BOARD = "$CMU610_LINE", "$CMU610_BOARD"
_BUILD_OPTIONS = tuple(v.option for v in VARIABLES if v.option)
CHECK = ShellCommand(("cmu610bsp check",))
SYNC_CHECK = ShellCommand(("cmu610bsp sync --check",))
PLAN = ShellCommand((f'cmu610bsp build "{LINE}" --plan --json', *_BUILD_OPTIONS))
BUILD = ShellCommand((f'cmu610bsp build "{LINE}" --board "{BOARD}{TWIN_SUFFIX}"', *_BUILD_OPTIONS))
# boots the flash image the build deployed for the twin (the line's last build, `qemu smoke`)
SMOKE = ShellCommand((f'cmu610bsp qemu smoke --board "{BOARD}" --line "{LINE}" --junit "smoke-{LINE}-{BOARD}.xml"',))


@dataclass(frozen=True)
class PlanJob:
    """The CI job that plans one product line (`build --plan`: what would run, what shared state restores)."""

    line: str

    @property
    def artifacts(self) -> tuple[str, ...]:
        """plan.json and the plan's log, as `cmu610bsp build --plan` writes them."""
        paths = BuildPaths(HERE, self.line)
        return (str(paths.plan_summary), str(paths.plan_log))


@dataclass(frozen=True)
class Target:
    """One build of the matrix: a product line on a board's QEMU twin, and the smoke test of the
    flash image it deployed."""

    line: str
    board: str

    @property
    def machine(self) -> str:
        return machine_name(self.board, True)

    @property
    def deploy(self) -> str:
        """Where BitBake deploys the twin's images."""
        return str(BuildPaths(HERE, self.line).deploy(self.machine))

    @property
    def junit(self) -> str:
        """What SMOKE writes for this target."""
        return f"smoke-{self.line}-{self.board}.xml"

    @property
    def artifacts(self) -> tuple[str, ...]:
        paths = BuildPaths(HERE, self.line)
        return (str(paths.summary), str(paths.log), *(f"{self.deploy}/{name}" for name in DEPLOYED))

    @property
    def smoke_artifacts(self) -> tuple[str, ...]:
        """The JUnit report and the console transcripts (`qemu smoke`'s results directory)."""
        return (self.junit, f"{smoke_results(HERE, self.board, self.line)}/")


@dataclass(frozen=True)
class Pipeline:
    variables: tuple[Variable, ...]
    install: tuple[str, ...]
    check: ShellCommand
    sync_check: ShellCommand
    plan: ShellCommand
    build: ShellCommand
    smoke: ShellCommand
    plans: tuple[PlanJob, ...]
    targets: tuple[Target, ...]


def pipeline(project: Project) -> Pipeline:
    """The jobs of the workspace's pipeline: a plan per line some board serves, and a target per
    board x line it serves, sorted (the render is deterministic)."""
    targets = sorted({Target(line, b.name) for b in project.boards for line in b.product_lines},
                     key=lambda t: (t.line, t.board))
    plans = tuple(PlanJob(line) for line in sorted({t.line for t in targets}))
    return Pipeline(VARIABLES, INSTALL, CHECK, SYNC_CHECK, PLAN, BUILD, SMOKE, plans, tuple(targets))


def files(project: Project) -> dict[str, str]:
    """{workspace path: template} of the pipelines the workspace asks for."""
    return {CI_FILES[system]: f"ci/{system}.yml.j2" for system in project.ci}
