"""The judge: runs a compose service the way its image would, without a Docker engine, and says
whether its telemetry arrives.

Usage:
  python judge.py --project DIR [--baseline DIR] --service NAME --probe PROBE [--compose FILE]

PROBE says how the service is exercised:
  ``GET /path``     a web service: requests carrying a W3C traceparent. ARRIVED when every
                    request's trace has a SERVER span and a log record with its trace id.
  ``run``           a job: the container's command runs to completion. ARRIVED when it exits as
                    it did before and log records arrive.
  ``exec CMD``      a long-running service (a Dagster code server): once it is up, CMD runs in
                    the same container (``docker compose exec``). ARRIVED when CMD exits as it
                    did before and log records arrive.
  ``exec-traced CMD`` the same, and a span must arrive with a log record in its trace (a Celery
                    worker running the task CMD sends).

With --baseline (the project before onboarding) the judge first runs that, for the answers and
exit codes the onboarded service must reproduce. The verdict, on the last line:
  VERDICT <service> ARRIVED|DARK|BROKEN <evidence>
BROKEN: the image no longer builds, or the app no longer starts or answers as before. DARK: the
app is fine and nothing, or only part, arrives. A baseline that does not run is the harness's
failure (exit 2), never a verdict.

This is an independent judge of obs-init: it shares none of obs-init's code and reads the
project the way Docker does.

How the container is emulated (why, in each place):
- Image: the Dockerfile's stage chain compose builds (build.target, else the last stage),
  ``FROM <stage>`` inheriting files, ENV, WORKDIR, CMD and ENTRYPOINT, ARG defaults; COPY/ADD as
  BuildKit does (sources clamped inside the context, .dockerignore applied first, --from=stage).
  The files are laid out under a temporary root.
- Paths: the container runs chrooted into that root, in a private mount namespace (we are
  root), where every host top-level entry the image does not provide is bind-mounted in
  (/usr, /etc, /root with pyenv and the venvs, ...). Absolute container paths are then real:
  WORKDIR, ENV PYTHONPATH, DAGSTER_HOME, an instance file naming /opt/dagster/..., a start
  script doing ``cd /app``, none of which rewriting arguments could reach. Nothing is created
  outside the temporary root.
- Network: a private network namespace per run: the app listens on its own container port
  (no clash with parallel runs or other users), every compose service name (and
  ``otel-collector``) resolves to 127.0.0.1 through the root's /etc/hosts, and the receiver
  listens on 4317 there, so the collector variables are used exactly as written.
- Python: a venv on the pyenv Python matching the FROM image (python:3.X), with exactly what the
  RUN lines install (pip/uv pip install with their arguments, from the files as copied, run
  in the chroot from the WORKDIR of the RUN line), cached outside the repo keyed by the
  Python version and the content of what is installed.
- Command: compose ``entrypoint``/``command`` over ENTRYPOINT/CMD, shell forms through
  ``/bin/sh -c``, with the image's ENV then the compose environment; stopped with SIGTERM,
  killed 10 s later (docker stop).
"""

from __future__ import annotations

import argparse
import fcntl
import glob
import hashlib
import http.client
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The platform's collector port: free in the private network namespace.
COLLECTOR_PORT = 4317
REQUESTS = 3
START_TIMEOUT = 90.0
STOP_GRACE = 10.0  # docker stop's default
PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


class HarnessError(Exception):
    """The judge could not emulate the container (never a verdict on obs-init)."""


def cache_dir() -> Path:
    base = os.environ.get("OBS_INIT_TEST_CACHE")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "obs-init-tests"


# --------------------------------------------------------------------------- compose


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, $VAR and $$."""

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, default = m.group(2), m.group(3) or ""
        val = env.get(name)
        if op == ":-" and not val:
            return default
        if op == "-" and val is None:
            return default
        return val or ""

    return re.sub(
        r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)",
        sub,
        value,
    )


def read_dotenv(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        k = k.removeprefix("export ").strip()
        v = v.strip()
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
            v = v[1:-1]
        out[k] = v
    return out


def find_compose(project: Path) -> Path:
    for name in ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"):
        if (project / name).is_file():
            return project / name
    raise HarnessError(f"no compose file in {project}")


def env_map(value) -> dict[str, str | None]:
    if value is None:
        return {}
    if isinstance(value, list):
        out: dict[str, str | None] = {}
        for item in value:
            k, sep, v = str(item).partition("=")
            out[k] = v if sep else None
        return out
    return {str(k): (None if v is None else str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in value.items()}


@dataclass
class Service:
    name: str
    context: Path | None
    dockerfile: Path | None
    target: str | None
    build_args: dict[str, str]
    image: str | None
    command: list[str] | None
    entrypoint: list[str] | None
    environment: dict[str, str]
    ports: list[int]
    others: list[str]  # every service of the project, for /etc/hosts
    redis_ports: list[int]  # redis services the project runs (a broker to start)


def compose_argv(value) -> list[str] | None:
    """Compose splits a string command shell-like (no shell runs it); a list is taken as is."""
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


def container_ports(svc: dict) -> list[int]:
    ports: list[int] = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            ports.append(int(p["target"]))
            continue
        spec = str(p).split("/")[0]
        ports.append(int(spec.rsplit(":", 1)[-1].split("-")[0]))
    for p in svc.get("expose") or []:
        ports.append(int(str(p).split("/")[0].split("-")[0]))
    return ports


def read_service(project: Path, compose_file: Path, name: str) -> Service:
    import yaml

    doc = yaml.safe_load(compose_file.read_text(encoding="utf-8"))
    services = doc.get("services") or {}
    if name not in services:
        raise HarnessError(f"no service {name} in {compose_file}")
    svc = services[name]
    base = compose_file.parent
    dotenv = read_dotenv(base / ".env")
    interp_env = {**dotenv, **{k: v for k, v in os.environ.items() if k in dotenv}}
    build = svc.get("build")
    context = dockerfile = target = None
    args: dict[str, str] = {}
    if build is not None:
        if isinstance(build, str):
            build = {"context": build}
        context = (base / interpolate(str(build.get("context", ".")), interp_env)).resolve()
        dockerfile = context / interpolate(str(build.get("dockerfile", "Dockerfile")), interp_env)
        target = build.get("target")
        args = {k: v for k, v in env_map(build.get("args")).items() if v is not None}
    environment: dict[str, str] = {}
    for f in svc.get("env_file") or []:
        path = f if isinstance(f, str) else f.get("path")
        environment.update(read_dotenv(base / path))
    for k, v in env_map(svc.get("environment")).items():
        if v is None:
            continue
        environment[k] = interpolate(v, interp_env)
    redis_ports = []
    for other in services.values():
        # Redis under its other official names too (redislabs/redismod, redis/redis-stack).
        repo = str((other or {}).get("image", "")).split(":")[0].split("/")[-1]
        if repo.startswith("redis") or repo == "valkey":
            redis_ports.append((container_ports(other) or [6379])[0])
    return Service(
        name=name,
        context=context,
        dockerfile=dockerfile,
        target=target,
        build_args=args,
        image=svc.get("image"),
        command=compose_argv(svc.get("command")),
        entrypoint=compose_argv(svc.get("entrypoint")),
        environment=environment,
        ports=container_ports(svc),
        others=list(services),
        redis_ports=redis_ports,
    )


# --------------------------------------------------------------------------- Dockerfile


@dataclass
class Instruction:
    op: str
    rest: str
    line: int


def dockerfile_instructions(text: str) -> list[Instruction]:
    out: list[Instruction] = []
    buf = ""
    start = 0
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue  # comments inside a continued instruction are dropped
        if not buf:
            start = i
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        op, _, rest = buf.strip().partition(" ")
        out.append(Instruction(op.upper(), rest.strip(), start))
        buf = ""
    if buf:
        op, _, rest = buf.strip().partition(" ")
        out.append(Instruction(op.upper(), rest.strip(), start))
    return out


def json_or_shell(rest: str) -> tuple[list[str], bool]:
    """(argv, shell form?) of CMD/ENTRYPOINT/RUN."""
    if rest.startswith("["):
        try:
            value = json.loads(rest)
            if isinstance(value, list):
                return [str(v) for v in value], False
        except json.JSONDecodeError:
            pass
    return ["/bin/sh", "-c", rest], True


def parse_flags(rest: str) -> tuple[dict[str, str], list[str]]:
    words = shlex.split(rest)
    flags: dict[str, str] = {}
    while words and words[0].startswith("--"):
        k, _, v = words.pop(0)[2:].partition("=")
        flags[k] = v
    return flags, words


@dataclass
class Stage:
    name: str
    index: int
    base: str  # an image, or another stage's name
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    image: str = ""  # the image at the bottom of the FROM chain
    installs: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    instructions: list[Instruction] = field(default_factory=list)


# What the official images set (docker inspect): the facts the chain starts from.
def image_defaults(image: str) -> tuple[dict[str, str], list[str] | None, list[str] | None]:
    repo = image.split("@")[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image
    repo = repo.split("/")[-1]
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    if repo == "python":
        return {"PATH": path, "LANG": "C.UTF-8"}, ["python3"], None
    if repo == "node":
        return {"PATH": path}, ["node"], ["docker-entrypoint.sh"]
    return {"PATH": path}, None, None


def python_version(image: str) -> str | None:
    """python:3.12-slim -> 3.12; python:3 -> the newest installed; other images: None."""
    name = image.split("@")[0]
    last = name.split("/")[-1]
    repo, _, tag = last.partition(":")
    if repo != "python":
        return None
    m = re.match(r"(\d+)(?:\.(\d+))?", tag or "3")
    if not m:
        return None
    if m.group(2):
        return f"{m.group(1)}.{m.group(2)}"
    versions = sorted(
        (tuple(int(x) for x in p.name.split(".")[:2]) for p in PYENV.glob(f"{m.group(1)}.*")),
        reverse=True,
    )
    return ".".join(map(str, versions[0])) if versions else None


def pyenv_python(version: str) -> Path:
    found = sorted(PYENV.glob(f"{version}.*"), key=lambda p: [int(x) for x in p.name.split(".")
                                                           if x.isdigit()])
    if not found:
        raise HarnessError(f"no Python {version} under {PYENV} (pyenv has 3.6-3.13)")
    return found[-1] / "bin" / "python3"


class Ignore:
    """.dockerignore: Go filepath.Match patterns with ``**``, ``!`` exceptions, last match wins."""

    def __init__(self, context: Path, dockerfile: Path):
        self.rules: list[tuple[bool, re.Pattern]] = []
        # BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile first.
        f = dockerfile.parent / f"{dockerfile.name}.dockerignore"
        if not f.is_file():
            f = context / ".dockerignore"
        if f.is_file():
            for line in f.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                negate = line.startswith("!")
                pat = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
                self.rules.append((negate, re.compile(self.regex(pat))))

    @staticmethod
    def regex(pat: str) -> str:
        out = ""
        i = 0
        while i < len(pat):
            c = pat[i]
            if pat.startswith("**", i):
                out += ".*"
                i += 2
                if i < len(pat) and pat[i] == "/":
                    i += 1
                    out = out[:-2] + "(?:.*/)?"
                continue
            out += "[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c)
            i += 1
        return out + "(?:/.*)?$"  # a matched folder takes what is below it

    def excluded(self, rel: str) -> bool:
        out = False
        for negate, rx in self.rules:
            if rx.match(rel):
                out = not negate
        return out


def subst(text: str, env: dict[str, str]) -> str:
    """Dockerfile variable substitution ($VAR, ${VAR}, ${VAR:-x}, ${VAR:+x})."""

    def sub(m: re.Match) -> str:
        name = m.group(1) or m.group(4)
        op, word = m.group(2), m.group(3) or ""
        val = env.get(name, "")
        if op == ":-":
            return val or word
        if op == ":+":
            return word if val else ""
        return val

    return re.sub(
        r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)", sub, text
    )


def env_pairs(rest: str) -> list[tuple[str, str]]:
    words = shlex.split(rest, posix=True)
    if words and "=" not in words[0]:
        # The legacy form: ENV KEY value with spaces
        key, _, value = rest.partition(" ")
        return [(key, value.strip().strip('"'))]
    return [tuple(w.split("=", 1)) for w in words]  # type: ignore[misc]


class Image:
    """The stages compose builds for one service, laid out under ``workdir``."""

    def __init__(self, service: Service, workdir: Path):
        assert service.context and service.dockerfile
        self.context = service.context
        self.ignore = Ignore(self.context, service.dockerfile)
        if not service.dockerfile.is_file():
            raise HarnessError(f"no Dockerfile {service.dockerfile}")
        self.instructions = dockerfile_instructions(service.dockerfile.read_text(encoding="utf-8"))
        self.workdir = workdir
        self.global_args: dict[str, str] = {}
        self.stages: list[Stage] = []
        self.built: dict[str, Stage] = {}
        self.build_args = service.build_args
        current: Stage | None = None
        for ins in self.instructions:
            if ins.op == "FROM":
                _, words = parse_flags(ins.rest)
                base = subst(words[0], self.global_args)
                name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(
                    len(self.stages)
                )
                current = Stage(name=name, index=len(self.stages), base=base,
                                root=workdir / f"stage-{len(self.stages)}")
                self.stages.append(current)
            elif current is None:
                if ins.op == "ARG":
                    k, _, v = ins.rest.partition("=")
                    self.global_args[k.strip()] = self.build_args.get(
                        k.strip(), v.strip().strip('"')
                    )
            else:
                current.instructions.append(ins)
        if not self.stages:
            raise HarnessError("the Dockerfile has no FROM")
        names = {s.name: s for s in self.stages}
        if service.target:
            if service.target not in names:
                raise HarnessError(f"build.target {service.target} is no stage")
            self.final = names[service.target]
        else:
            self.final = self.stages[-1]
        self.build(self.final)

    def stage_named(self, name: str) -> Stage | None:
        for s in self.stages:
            if s.name == name or str(s.index) == name:
                return s
        return None

    def build(self, stage: Stage) -> Stage:
        if stage.name in self.built:
            return stage
        parent = self.stage_named(stage.base)
        if parent is not None and parent.index < stage.index:
            self.build(parent)
            shutil.copytree(parent.root, stage.root, symlinks=True)
            stage.env = dict(parent.env)
            stage.workdir = parent.workdir
            stage.cmd, stage.entrypoint = parent.cmd, parent.entrypoint
            stage.image = parent.image
            stage.installs = [dict(i) for i in parent.installs]
            stage.notes = list(parent.notes)
        else:
            stage.root.mkdir(parents=True)
            stage.image = stage.base
            stage.env, stage.cmd, stage.entrypoint = image_defaults(stage.base)
        for ins in stage.instructions:
            self.apply(stage, ins)
        self.built[stage.name] = stage
        return stage

    def vars(self, stage: Stage) -> dict[str, str]:
        return {**self.global_args, **stage.args, **stage.env}

    def abspath(self, stage: Stage, path: str) -> str:
        return os.path.normpath(path if path.startswith("/") else os.path.join(stage.workdir, path))

    def apply(self, stage: Stage, ins: Instruction) -> None:
        op = ins.op
        if op == "ARG":
            k, _, v = ins.rest.partition("=")
            k = k.strip()
            stage.args[k] = self.build_args.get(
                k, self.global_args.get(k, subst(v.strip().strip('"'), self.vars(stage)))
            )
        elif op == "ENV":
            for k, v in env_pairs(ins.rest):
                stage.env[k] = subst(v, self.vars(stage))
        elif op == "WORKDIR":
            stage.workdir = self.abspath(stage, subst(ins.rest.strip(), self.vars(stage)))
            (stage.root / stage.workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)
        elif op in ("COPY", "ADD"):
            self.copy(stage, ins)
        elif op == "CMD":
            stage.cmd = json_or_shell(ins.rest)[0]
        elif op == "ENTRYPOINT":
            stage.entrypoint = json_or_shell(ins.rest)[0]
            stage.cmd = None  # Docker resets CMD inherited from the base when ENTRYPOINT is set
        elif op == "RUN":
            self.run(stage, ins)
        # USER, EXPOSE, LABEL, HEALTHCHECK, SHELL, VOLUME, STOPSIGNAL: nothing the judge needs.

    def copy(self, stage: Stage, ins: Instruction) -> None:
        flags, words = parse_flags(subst(ins.rest, self.vars(stage)))
        if ins.rest.lstrip().startswith("["):
            words = json.loads(subst(ins.rest, self.vars(stage)))
        *sources, dest = words
        dest_abs = self.abspath(stage, dest)
        dest_is_dir = dest.endswith("/") or len(sources) > 1
        src_from = flags.get("from")
        if src_from is not None:
            other = self.stage_named(src_from)
            if other is None:
                stage.notes.append(f"line {ins.line}: COPY --from={src_from} (an image) skipped")
                return
            self.build(other)
            base_root = other.root
            for src in sources:
                src_path = os.path.normpath("/" + src).lstrip("/")
                # Files a RUN line made (a venv, a wheel folder) are not laid out: what that
                # stage installed is what the copy brings.
                if not (base_root / src_path).exists() or src_path.startswith(("usr/local",
                                                                               "opt/venv",
                                                                               "install")):
                    for inst in other.installs:
                        if inst not in stage.installs:
                            stage.installs.append(dict(inst))
                    stage.notes.append(
                        f"line {ins.line}: COPY --from={src_from} {src}: that stage's installs"
                    )
                    continue
                for found in sorted(glob.glob(str(base_root / src_path))):
                    self.place(stage, Path(found), Path(found).relative_to(base_root),
                               dest_abs, dest_is_dir, lambda _r: False)
            return
        for src in sources:
            # BuildKit resolves every source inside the context: ../x is the context's x.
            rel = os.path.normpath("/" + src).lstrip("/")
            matches = sorted(glob.glob(str(self.context / rel))) if rel else [str(self.context)]
            matches = [m for m in matches
                       if not rel or not self.ignore.excluded(
                           str(Path(m).relative_to(self.context)))]
            if not matches:
                raise HarnessError(f"line {ins.line}: COPY {src}: nothing in the context")
            for m in matches:
                self.place(stage, Path(m), Path(m).relative_to(self.context), dest_abs,
                           dest_is_dir or len(matches) > 1, self.ignore.excluded)

    def place(self, stage: Stage, src: Path, rel: Path, dest_abs: str, dest_is_dir: bool,
              excluded) -> None:
        target = stage.root / dest_abs.lstrip("/")
        if src.is_dir():
            for dirpath, dirnames, filenames in os.walk(src):
                d = Path(dirpath)
                sub_rel = d.relative_to(src)
                dirnames[:] = [n for n in dirnames if not excluded(str(rel / sub_rel / n))]
                (target / sub_rel).mkdir(parents=True, exist_ok=True)
                for n in filenames:
                    if excluded(str(rel / sub_rel / n)):
                        continue
                    shutil.copy2(d / n, target / sub_rel / n, follow_symlinks=True)
            return
        if dest_is_dir or target.is_dir():
            target = target / src.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)

    def run(self, stage: Stage, ins: Instruction) -> None:
        text = subst(ins.rest, self.vars(stage)) if not ins.rest.startswith("[") else " ".join(
            json.loads(ins.rest))
        # Flags of RUN itself (--mount=type=cache,...) come first.
        text = re.sub(r"^(--\S+\s+)+", "", text.strip())
        for segment in re.split(r"&&|\|\||;", text):
            try:
                words = shlex.split(segment)
            except ValueError:
                words = segment.split()
            while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
                words.pop(0)
            if not words:
                continue
            step = install_step(words)
            if step is not None:
                step["cwd"] = stage.workdir
                step["line"] = ins.line
                step["env"] = {k: v for k, v in stage.env.items()
                               if k.startswith(("PIP_", "UV_", "POETRY_"))}
                stage.installs.append(step)
            elif words[0] == "mkdir":
                for w in words[1:]:
                    if not w.startswith("-"):
                        (stage.root / self.abspath(stage, w).lstrip("/")).mkdir(
                            parents=True, exist_ok=True)
            else:
                stage.notes.append(f"line {ins.line}: not emulated: {' '.join(words)[:80]}")


PIP_DROPPED_WITH_VALUE = {"--prefix", "--target", "-t", "--root"}
PIP_DROPPED = {"--user", "--system", "--break-system-packages", "--no-warn-script-location"}


def install_step(words: list[str]) -> dict | None:
    """What a RUN segment installs into the image's Python, if anything."""
    w = list(words)
    prog = os.path.basename(w[0])
    if prog == "poetry" and w[1:2] == ["install"]:
        # Into the image's Python (Dockerfiles set virtualenvs.create false): here, the venv.
        return {"tool": "poetry", "args": w[2:]}
    if prog == "uv" and w[1:2] == ["sync"]:
        return {"tool": "uv-sync", "args": w[2:]}
    if prog in ("python", "python3") or re.match(r"python3\.\d+$", prog):
        if w[1:3] == ["-m", "pip"]:
            w = ["pip"] + w[3:]
        else:
            return None
    elif prog == "uv" and w[1:2] == ["pip"]:
        w = ["pip"] + w[2:]
    elif prog in ("pip", "pip3") or re.match(r"pip3\.\d+$", prog):
        w = ["pip"] + w[1:]
    else:
        return None
    if w[1:2] != ["install"]:
        return None
    args: list[str] = []
    it = iter(w[2:])
    for a in it:
        if a in PIP_DROPPED_WITH_VALUE:
            next(it, None)
        elif a.split("=")[0] in PIP_DROPPED_WITH_VALUE or a in PIP_DROPPED:
            continue
        else:
            args.append(a)
    return {"tool": "pip", "args": args}


def requirement_files(root: Path, cwd: str, args: list[str]) -> list[Path]:
    """The files pip reads for these arguments: -r/-c files and their includes, local paths."""
    out: list[Path] = []
    todo: list[Path] = []
    it = iter(args)

    def inside(p: str) -> Path:
        # A container path (absolute, or relative to the RUN line's WORKDIR) under the root.
        return root / os.path.normpath(os.path.join(cwd, p)).lstrip("/")

    for a in it:
        for flag in ("-r", "--requirement", "-c", "--constraint"):
            if a == flag:
                todo.append(inside(next(it, "")))
            elif a.startswith(flag + "=") or (len(flag) == 2 and a.startswith(flag) and
                                              len(a) > 2):
                todo.append(inside(a[len(flag):].lstrip("=")))
    while todo:
        f = todo.pop()
        if f in out or not f.is_file():
            out.append(f)
            continue
        out.append(f)
        for line in f.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] in ("-r", "-c", "--requirement", "--constraint"):
                todo.append(f.parent / parts[1])
    return out


def tree_hash(path: Path) -> str:
    h = hashlib.sha256()
    if path.is_file():
        h.update(path.read_bytes())
        return h.hexdigest()
    for dirpath, dirnames, filenames in sorted(os.walk(path)):
        dirnames[:] = sorted(n for n in dirnames if n != "__pycache__")
        for n in sorted(filenames):
            p = Path(dirpath) / n
            h.update(str(p.relative_to(path)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def install_key(root: Path, version: str, installs: list[dict]) -> str:
    """The venv's cache key: the Python, and each install with the content of what it reads."""
    h = hashlib.sha256(f"judge-venv-1\0{version}".encode())
    for step in installs:
        h.update(json.dumps([step["tool"], step["args"], step["cwd"], step["env"]]).encode())
        for f in requirement_files(root, step["cwd"], step["args"]):
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes() if f.is_file() else b"<missing>")
        if step["tool"] != "pip":
            # poetry install / uv sync read the project where they run: pyproject.toml and the
            # lock, and the project's own package unless told not to install it.
            project = root / step["cwd"].lstrip("/")
            if {"--no-root", "--no-install-project"} & set(step["args"]):
                for name in ("pyproject.toml", "poetry.lock", "uv.lock"):
                    if (project / name).is_file():
                        h.update(name.encode() + b"\0" + (project / name).read_bytes())
            else:
                h.update(tree_hash(project).encode())
        for a in step["args"]:
            if a == "." or a.startswith(("./", "/", "..")):
                p = root / (a if a.startswith("/") else os.path.join(step["cwd"], a)).lstrip("/")
                if p.exists():
                    h.update(tree_hash(p).encode())
    return h.hexdigest()[:20]


# --------------------------------------------------------------------------- the container


def bind_host_into(root: Path, host: Path = Path("/")) -> list[list[str]]:
    """The mounts that make ``root`` a container root: each host entry the image does not
    provide is bind-mounted in; where both have a folder, one level down. Returns the mount
    commands, with the mountpoints created (inside root only)."""
    cmds: list[list[str]] = []
    for entry in sorted(os.listdir(host)):
        h = host / entry
        r = root / h.relative_to("/")
        if host == Path("/") and entry == "tmp":
            r.mkdir(exist_ok=True)  # the container's own empty /tmp
            continue
        if host == Path("/root") and not any(
                n == h or h in n.parents for n in (PYENV.resolve(), cache_dir().resolve())):
            continue  # the container's HOME holds the Pythons and the venvs, nothing else
        if os.path.lexists(r):
            if r.is_dir() and not r.is_symlink() and h.is_dir() and not h.is_symlink():
                cmds += bind_host_into(root, h)
            continue  # the image's own file wins
        if h.is_symlink():
            os.symlink(os.readlink(h), r)
        elif h.is_dir():
            r.mkdir()
            cmds.append(["mount", "--rbind", str(h), str(r)])
        else:
            r.touch()
            cmds.append(["mount", "--bind", str(h), str(r)])
    return cmds


def namespace_setup(spec: dict) -> None:
    """Inside the private namespaces: the loopback up, the root's mounts, its /etc/hosts."""
    if spec.get("network_private"):
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        # Docker names the container's host after the container (compose: the service).
        import socket

        socket.sethostname(spec["hostnames"][-1])
    root = Path(spec["root"])
    # The container's own /root, with the host's entries (pyenv, the venvs) bound one by one:
    # what the app writes in its HOME (gunicorn's control socket) stays in the root.
    (root / "root").mkdir(exist_ok=True)
    for cmd in bind_host_into(root):
        subprocess.run(cmd, check=True)
    cache = cache_dir().resolve()
    if Path("/tmp") in cache.parents:
        # A cache moved under /tmp (OBS_INIT_TEST_CACHE), which the container does not share:
        # the venvs must still be where their scripts say they are.
        inside = root / str(cache).lstrip("/")
        inside.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "--rbind", str(cache), str(inside)], check=True)
    hosts = Path(spec["workdir"]) / "hosts"
    names = " ".join(spec["hostnames"])
    hosts.write_text(f"127.0.0.1\tlocalhost {names}\n::1\tlocalhost ip6-localhost\n")
    etc_hosts = root / "etc" / "hosts"
    if not etc_hosts.exists():
        etc_hosts.parent.mkdir(parents=True, exist_ok=True)
        etc_hosts.touch()
    subprocess.run(["mount", "--bind", str(hosts), str(etc_hosts)], check=True)


def in_container(root: str, cwd: str):
    def enter() -> None:
        os.chroot(root)
        os.chdir(cwd)
        os.setsid()

    return enter


def namespaced(args: list[str], network: bool) -> list[str]:
    """Runs judge.py again in private mount (and network) and PID namespaces: everything
    started there dies with it, mounts and ports included."""
    flags = ["--mount", "--uts", "--pid", "--fork", "--kill-child", "--mount-proc",
             "--propagation", "private"]
    if network:
        flags.append("--net")
    return ["unshare", *flags, sys.executable, str(Path(__file__).resolve()), *args]


# --------------------------------------------------------------------------- the venv


def make_venv(image: Image, stage: Stage, root: Path, workdir: Path) -> tuple[Path | None, str]:
    version = python_version(stage.image)
    if version is None:
        return None, f"{stage.image}: no Python in the image"
    key = install_key(root, version, stage.installs)
    cache = cache_dir() / "container-venvs"
    cache.mkdir(parents=True, exist_ok=True)
    venv = cache / f"py{version}-{key}"
    log = f"Python {version}, {len(stage.installs)} install(s), venv {venv.name}"
    with open(cache / f".lock-{venv.name}", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / ".complete").is_file():
            return venv, log + " (cached)"
        failed = cache / f"{venv.name}.failed"
        if failed.is_file():
            raise BuildFailed(failed.read_text())
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([str(pyenv_python(version)), "-m", "venv", str(venv)], check=True,
                       stdout=subprocess.DEVNULL)
        spec = {
            "mode": "install",
            "root": str(root),
            "workdir": str(workdir),
            "hostnames": [],
            "venv": str(venv),
            "installs": stage.installs,
            "tools": lock_tools() if any(i["tool"] != "pip" for i in stage.installs) else None,
            # The build machine's way to PyPI (certificates, proxies), as docker build would
            # have its daemon's: not a fact of the image.
            "network_env": {k: v for k, v in os.environ.items()
                            if k in NETWORK_ENV or k.lower() in NETWORK_ENV},
        }
        spec_file = workdir / "install.json"
        spec_file.write_text(json.dumps(spec))
        out = subprocess.run(namespaced(["--inside", str(spec_file)], network=False),
                             capture_output=True, text=True)
        if out.returncode != 0:
            text = (out.stdout + out.stderr)[-3000:]
            shutil.rmtree(venv, ignore_errors=True)
            # Requirements that cannot be resolved together fail the same way again: remember
            # that rather than ask PyPI each run. Anything else (the network) is tried again.
            if "ResolutionImpossible" in text:
                failed.write_text(text)
            raise BuildFailed(text)
        (venv / ".complete").touch()
    return venv, log


NETWORK_ENV = {"ssl_cert_file", "ssl_cert_dir", "pip_cert", "requests_ca_bundle",
               "http_proxy", "https_proxy", "no_proxy", "pip_index_url", "uv_index_url",
               "uv_native_tls"}


class BuildFailed(Exception):
    """The image's RUN lines fail (pip cannot install what the files ask for)."""


def lock_tools() -> str:
    """The bin folder of the suite's venv of Poetry and uv (tests/e2e/lock-tools.lock), for an
    image that brings its own (``COPY --from=ghcr.io/astral-sh/uv``) rather than pip-installing
    them in an earlier RUN line."""
    out = subprocess.run(["bash", str(HERE.parent / "e2e" / "venv.sh"),
                          str(HERE.parent / "e2e" / "lock-tools.lock")],
                         capture_output=True, text=True, check=True)
    return str(Path(out.stdout.strip()).parent)


def inside_install(spec: dict) -> int:
    namespace_setup(spec)
    venv = spec["venv"]
    for step in spec["installs"]:
        env = {"PATH": f"{venv}/bin:/usr/local/bin:/usr/bin:/bin", "HOME": "/root",
               "VIRTUAL_ENV": venv, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
               **spec["network_env"], **step["env"]}
        if step["tool"] == "pip":
            cmd = [f"{venv}/bin/python", "-m", "pip", "install", "--quiet", *step["args"]]
        else:
            # The image's own tool when an earlier RUN line installed it, else the suite's.
            name = "poetry" if step["tool"] == "poetry" else "uv"
            exe = f"{venv}/bin/{name}"
            if not os.path.exists(exe):
                exe = f"{spec['tools']}/{name}"
            if name == "poetry":
                cmd = [exe, "install", "--no-interaction", *step["args"]]
                env["POETRY_VIRTUALENVS_CREATE"] = "false"
            else:
                cmd = [exe, "sync", *step["args"]]
                # The project's environment is the image's Python: here, the venv.
                env["UV_PROJECT_ENVIRONMENT"] = venv
                env["UV_PYTHON"] = f"{venv}/bin/python"
                env["UV_PYTHON_DOWNLOADS"] = "never"
        print(f"$ (line {step['line']}, in {step['cwd']}) {' '.join(cmd)}", flush=True)
        r = subprocess.run(cmd, env=env, preexec_fn=in_container(spec["root"], step["cwd"]))
        if r.returncode != 0:
            return r.returncode
    return 0


# --------------------------------------------------------------------------- running


def container_argv(service: Service, stage: Stage) -> list[str]:
    """Compose's entrypoint/command over the image's ENTRYPOINT/CMD."""
    if service.entrypoint is not None:
        entry = service.entrypoint
        cmd = service.command or []
    else:
        entry = stage.entrypoint or []
        cmd = service.command if service.command is not None else (stage.cmd or [])
    argv = entry + cmd
    if entry[:1] == ["docker-entrypoint.sh"]:
        argv = cmd  # node's entrypoint runs its arguments (or node with them)
    if not argv:
        raise HarnessError("the container has no command")
    return argv


def container_env(service: Service, stage: Stage, venv: Path | None) -> dict[str, str]:
    env = {"HOSTNAME": service.name, "HOME": "/root", **stage.env, **service.environment}
    if venv is not None:
        # Where the image's pip put console scripts and python: first on PATH.
        env["PATH"] = f"{venv}/bin:" + env.get("PATH", "/usr/local/bin:/usr/bin:/bin")
        env["VIRTUAL_ENV"] = str(venv)
    return env


def inside_run(spec: dict) -> int:
    """In the private namespaces: receiver, broker, the container, the probe. Prints one JSON
    object of what happened."""
    namespace_setup(spec)
    result: dict = {"started": False}
    recv = subprocess.Popen([sys.executable, str(HERE / "receiver.py"), str(COLLECTOR_PORT)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert recv.stdout and recv.stdin
    if recv.stdout.readline().strip() != "ready":
        raise HarnessError("the receiver did not start")
    for port in spec["redis_ports"]:
        subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                          "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        wait_port(port, 10)

    def dump() -> dict:
        recv.stdin.write("dump\n")
        recv.stdin.flush()
        return json.loads(recv.stdout.readline())

    log_path = Path(spec["workdir"]) / f"console-{spec['label']}.log"
    console = open(log_path, "w+")
    proc = subprocess.Popen(spec["argv"], env=spec["env"], stdout=console,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            preexec_fn=in_container(spec["root"], spec["cwd"]))
    probe = spec["probe"]
    try:
        if probe == "run":
            try:
                result["exit"] = proc.wait(timeout=180)
            except subprocess.TimeoutExpired:
                result["exit"] = "timeout"
            result["started"] = True
            time.sleep(0.5)
        else:
            ready = wait_ready(proc, spec, log_path)
            result["started"] = ready
            if ready and probe.startswith("GET "):
                result["answers"] = []
                result["trace_ids"] = []
                for _ in range(REQUESTS):
                    trace_id = secrets.token_hex(16)
                    result["trace_ids"].append(trace_id)
                    result["answers"].append(request(spec["port"], probe[4:], trace_id))
            elif ready:
                cmd = probe.split(" ", 1)[1]
                p = subprocess.run(shlex.split(cmd), env=spec["env"], capture_output=True,
                                   text=True, timeout=180,
                                   preexec_fn=in_container(spec["root"], spec["cwd"]))
                result["exit"] = p.returncode
                result["probe_output"] = (p.stdout + p.stderr)[-1500:]
            # Records are batched: wait for them while the app runs, as long as the batch delay.
            # (The baseline has nothing to wait for.)
            deadline = time.monotonic() + (7 if spec["label"] != "baseline" else 0)
            while ready and time.monotonic() < deadline and not arrived(spec, result, dump()):
                time.sleep(0.5)
            result["exited_early"] = proc.poll()
            stop(proc)
        time.sleep(1.0)
        result["received"] = dump()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        console.seek(0)
        text = console.read()
        # The first error (a worker's traceback) and how it ended.
        result["console"] = text if len(text) < 8000 else text[:4000] + "\n[...]\n" + text[-4000:]
    print(json.dumps(result))
    return 0


def stop(proc: subprocess.Popen) -> None:
    """docker stop: SIGTERM to the container's process, SIGKILL to all of it 10 s later."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def wait_port(port: int, timeout: float) -> bool:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def wait_ready(proc: subprocess.Popen, spec: dict, log_path: Path) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if spec["port"]:
            try:
                import socket

                socket.create_connection(("127.0.0.1", spec["port"]), timeout=1).close()
                if not spec["probe"].startswith("GET "):
                    return True
                conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=10)
                conn.request("GET", spec["probe"][4:])
                conn.getresponse().read()
                return True
            except OSError:
                pass
        elif re.search(r"\bready\b", log_path.read_text(errors="replace")):
            return True  # a worker's start line (celery: "celery@host ready.")
        time.sleep(0.2)
    return False


def request(port: int, path: str, trace_id: str) -> dict:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", path,
                     headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"})
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
        conn.close()
        return {"status": r.status, "body": body[:500]}
    except OSError as e:
        return {"status": None, "body": f"{type(e).__name__}: {e}"}


def arrived(spec: dict, result: dict, got: dict) -> bool:
    return not missing(spec["probe"], result, got)


def missing(probe: str, result: dict, got: dict) -> list[str]:
    """What has not arrived (empty: everything the verdict asks for)."""
    if probe.startswith("GET "):
        out = []
        for t in result.get("trace_ids", []):
            server = any(s["trace_id"] == t and s["kind"] == "SERVER" for s in got["spans"])
            log = any(r["trace_id"] == t for r in got["logs"])
            if not server:
                out.append(f"no SERVER span in trace {t}")
            if not log:
                out.append(f"no log record in trace {t}")
        return out
    if not got["logs"]:
        return ["no log record"]
    if probe.startswith("exec-traced "):
        traces = {s["trace_id"] for s in got["spans"]}
        if not any(r["trace_id"] in traces for r in got["logs"]):
            return ["no log record in the trace of an exported span"]
    return []


# --------------------------------------------------------------------------- one run


def prepare(project: Path, compose: Path | None, service_name: str, workdir: Path):
    compose_file = compose or find_compose(project)
    service = read_service(project, compose_file, service_name)
    if service.context is None:
        raise HarnessError(f"{service_name} has no build: (prebuilt image {service.image})")
    image = Image(service, workdir / "stages")
    stage = image.final
    return service, image, stage


def run_once(label: str, project: Path, args, workdir: Path) -> dict:
    """Builds and runs the service of ``project``: what it answered and what arrived."""
    workdir.mkdir(parents=True)
    service, image, stage = prepare(project, args.compose, args.service, workdir)
    root = stage.root
    report: dict = {"label": label, "image": stage.image, "stage": stage.name,
                    "workdir": stage.workdir, "notes": stage.notes,
                    "installs": [f"line {i['line']}: {i['tool']} {' '.join(i['args'])}"
                                 for i in stage.installs]}
    try:
        venv, log = make_venv(image, stage, root, workdir)
    except BuildFailed as e:
        report["build_failed"] = str(e)
        return report
    report["venv"] = log
    argv = container_argv(service, stage)
    report["argv"] = argv
    port = service.ports[0] if service.ports else None
    spec = {
        "mode": "run",
        "network_private": True,
        "label": label,
        "root": str(root),
        "workdir": str(workdir),
        # The service's own name last: it is also the container's hostname.
        "hostnames": [*sorted({*service.others, "otel-collector"} - {service.name}),
                      service.name],
        "argv": argv,
        "env": container_env(service, stage, venv),
        "cwd": stage.workdir,
        "port": port,
        "probe": args.probe,
        "redis_ports": service.redis_ports,
    }
    if args.probe.startswith("GET ") and port is None:
        raise HarnessError(f"{service.name} publishes no port to send requests to")
    spec_file = workdir / "run.json"
    spec_file.write_text(json.dumps(spec))
    out = subprocess.run(namespaced(["--inside", str(spec_file)], network=True),
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise HarnessError(f"the {label} run failed:\n{out.stdout[-2000:]}{out.stderr[-3000:]}")
    report.update(json.loads(out.stdout.strip().splitlines()[-1]))
    return report


def same_behaviour(probe: str, before: dict, after: dict) -> str | None:
    """Why the onboarded app does not behave as before (None: it does)."""
    if after.get("build_failed"):
        return "the image no longer builds: " + after["build_failed"].strip()[-600:]
    if not after.get("started"):
        console = after.get("console", "")
        errors = re.findall(r"^\s*([\w.]*(?:Error|Exception)\b.*)$", console, re.M)
        first = f" ({errors[0].strip()})" if errors else ""
        return f"the app no longer starts{first}: " + console[-800:]
    if probe.startswith("GET "):
        b = [(a["status"], a["body"]) for a in before["answers"]]
        a = [(x["status"], x["body"]) for x in after["answers"]]
        if a != b:
            return f"answers changed: before {b[:1]}, after {a[:1]}"
        return None
    if after.get("exit") != before.get("exit"):
        return (f"exit status {after.get('exit')} (was {before.get('exit')}): "
                + (after.get("probe_output") or after.get("console", ""))[-800:])
    return None


def judge(args) -> tuple[str, str]:
    base_tmp = Path(tempfile.mkdtemp(prefix="obs-init-judge-"))
    try:
        before = None
        # The two runs share nothing (each its own root and namespaces): run them side by
        # side, since each spends most of its time waiting on the app.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            later = pool.submit(run_once, "onboarded", args.project, args,
                                base_tmp / "onboarded")
            if args.baseline:
                before = run_once("baseline", args.baseline, args, base_tmp / "baseline")
            after = later.result()
        if before is not None:
            print_report(before)
            problem = None
            if before.get("build_failed"):
                problem = "the baseline image does not build: " + before["build_failed"][-1500:]
            elif not before.get("started"):
                problem = "the baseline app does not start: " + before.get("console", "")[-1500:]
            elif args.probe.startswith("GET ") and any(
                    a["status"] is None for a in before["answers"]):
                problem = f"the baseline app does not answer: {before['answers']}"
            elif not args.probe.startswith("GET ") and before.get("exit") != 0:
                problem = (f"the baseline exits {before.get('exit')}: "
                           + (before.get("probe_output") or before.get("console", ""))[-1500:])
            if problem:
                raise HarnessError(problem)
        print_report(after)
        reference = before or {"answers": after.get("answers", []), "exit": 0}
        broken = same_behaviour(args.probe, reference, after)
        if broken:
            return "BROKEN", broken
        got = after["received"]
        lacking = missing(args.probe, after, got)
        summary = (f"{len(got['spans'])} span(s) "
                   f"({sorted({s['kind'] for s in got['spans']})}), "
                   f"{len(got['logs'])} log record(s)")
        if lacking:
            return "DARK", f"{summary}; missing: {'; '.join(sorted(set(lacking))[:4])}"
        return "ARRIVED", summary
    finally:
        if not args.keep:
            shutil.rmtree(base_tmp, ignore_errors=True)
        else:
            print(f"kept {base_tmp}")


def print_report(r: dict) -> None:
    print(f"== {r['label']}: image {r['image']} stage {r['stage']}, WORKDIR {r['workdir']}")
    for line in r.get("installs", []):
        print(f"   install {line}")
    for line in r.get("notes", []):
        print(f"   note {line}")
    if r.get("venv"):
        print(f"   venv {r['venv']}")
    if r.get("build_failed"):
        print("   BUILD FAILED: " + r["build_failed"].strip()[-1500:])
        return
    print(f"   command {r.get('argv')}")
    print(f"   started {r.get('started')}, exit {r.get('exit')}")
    for a in r.get("answers", []):
        print(f"   answer {a['status']} {a['body'][:200]!r}")
    got = r.get("received") or {"spans": [], "logs": []}
    print(f"   received {len(got['spans'])} span(s), {len(got['logs'])} log record(s)")
    for s in got["spans"][:8]:
        print(f"     span {s['kind']} {s['name']!r} trace {s['trace_id']} ({s['service']})")
    for rec in got["logs"][:8]:
        print(f"     log trace {rec['trace_id'] or '-'} {rec['body'][:100]!r} ({rec['service']})")
    if r.get("probe_output"):
        print("   probe output:\n" + indent(r["probe_output"][-1200:]))
    console = r.get("console", "")
    print("   console:\n" + indent(console if len(console) < 3000 else
                                   console[:1500] + "\n[...]\n" + console[-1500:]))


def indent(text: str) -> str:
    return "\n".join("     | " + line for line in text.splitlines())


def main() -> int:
    if sys.argv[1:2] == ["--inside"]:
        spec = json.loads(Path(sys.argv[2]).read_text())
        return inside_install(spec) if spec["mode"] == "install" else inside_run(spec)
    if sys.argv[1:2] == ["--onboarded"]:
        # The services that got a Dapr sidecar (what onboarding a service means), one a line.
        import yaml

        compose = find_compose(Path(sys.argv[2]))
        services = yaml.safe_load(compose.read_text(encoding="utf-8")).get("services") or {}
        for name in services:
            sidecar = services.get(f"{name}-dapr") or {}
            if sidecar.get("network_mode") == f"service:{name}":
                print(name)
        return 0
    if sys.argv[1:2] == ["--layout"]:
        # What the image of a service holds, as the judge lays it out (for its own tests).
        with tempfile.TemporaryDirectory(prefix="obs-init-layout-") as tmp:
            service, image, stage = prepare(Path(sys.argv[2]), None, sys.argv[3], Path(tmp))
            files = sorted("/" + str(Path(d, f).relative_to(stage.root))
                           for d, _, fs in os.walk(stage.root) for f in fs)
            print(json.dumps({
                "stage": stage.name, "image": stage.image, "workdir": stage.workdir,
                "env": stage.env, "argv": container_argv(service, stage),
                "installs": [[i["tool"], *i["args"], "in", i["cwd"]] for i in stage.installs],
                "files": files,
            }, indent=1))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--project", type=Path, required=True)
    p.add_argument("--baseline", type=Path)
    p.add_argument("--compose", type=Path)
    p.add_argument("--service", required=True)
    p.add_argument("--probe", required=True)
    p.add_argument("--keep", action="store_true", help="keep the laid-out roots")
    args = p.parse_args()
    try:
        if os.geteuid() != 0:
            raise HarnessError("the judge needs root: private namespaces, bind mounts, chroot")
        verdict, evidence = judge(args)
    except HarnessError as e:
        print(f"HARNESS-ERROR {args.service}: {e}")
        return 2
    print(f"VERDICT {args.service} {verdict} {evidence}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
