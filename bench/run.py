"""obs-init's benchmarks: ratios against a named peer measured in the same run.

Usage: bench/run  (builds obs-init in release mode, creates the peer's venv, writes
bench/RESULTS.md and prints it)

1. End to end, per corpus file: `obs-init --yes --service S` against
   bench/peers/ruamel_onboard.py (ruamel.yaml round-trip, the standard comment-preserving
   editor) doing the same compose edits. Both as a user runs them: a fresh process each.
2. Scaling: synthetic compose files of 10 to 5,000 services (comments, anchors, list and map
   environments): time and peak memory of obs-init, the peer's time, the per-service slope.
3. Detection scan on a synthetic monorepo of 200,000 files (node_modules, .venv and a
   git-ignored generated tree), with and without its .gitignore.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "compose"
BIN = ROOT / "target" / "release" / "obs-init"
PEER = ROOT / "bench" / "peers" / "ruamel_onboard.py"
CACHE = Path(os.environ.get("OBS_INIT_BENCH_CACHE", Path.home() / ".cache" / "obs-init-bench"))
REPEAT = int(os.environ.get("OBS_INIT_BENCH_REPEAT", "11"))


def timed(cmd: list[str], setup) -> tuple[float, int]:
    """Seconds and exit code of one run of `cmd` after `setup()` prepared its directory."""
    cwd = setup()
    start = time.perf_counter()
    code = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False).returncode
    return time.perf_counter() - start, code


def first_app(path: Path) -> str | None:
    try:
        doc = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except Exception:
        return None
    services = (doc or {}).get("services") if isinstance(doc, dict) else None
    for name, svc in (services or {}).items():
        if not isinstance(svc, dict):
            continue
        image = str(svc.get("image", ""))
        if (svc.get("image") or svc.get("build")) and "network_mode" not in svc and "daprd" not in image:
            return str(name)
    return None


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_corpus(work: Path) -> list[str]:
    rows, ratios, ours_all, peer_all, skipped = [], [], [], [], []
    for src in sorted(p for p in CORPUS.iterdir() if p.is_file() and p.suffix in (".yml", ".yaml")):
        service = first_app(src)
        if service is None:
            skipped.append(f"{src.name} (no app service, or not YAML)")
            continue
        project = work / "p"

        def setup() -> Path:
            shutil.rmtree(project, ignore_errors=True)
            project.mkdir()
            shutil.copy(src, project / "compose.yaml")
            return project

        ours = [timed([str(BIN), "--yes", "--service", service, "--on-conflict", "skip"], setup) for _ in range(REPEAT)]
        peer = [timed([sys.executable, str(PEER), str(project), service], setup) for _ in range(REPEAT)]
        if any(c != 0 for _, c in ours) or any(c != 0 for _, c in peer):
            skipped.append(f"{src.name} (refused by {'obs-init' if any(c for _, c in ours) else 'the peer'})")
            continue
        o, p = median_ms([t for t, _ in ours]), median_ms([t for t, _ in peer])
        ours_all.append(o)
        peer_all.append(p)
        ratios.append(p / o)
        rows.append(f"| {src.name} | {o:.2f} | {p:.1f} | {p / o:.0f}x |")
    summary = [
        "## 1. End to end on the corpus",
        "",
        f"{len(rows)} files measured, {REPEAT} runs each, medians in milliseconds.",
        "",
        f"- obs-init median over files: **{statistics.median(ours_all):.2f} ms** (target: under 5 ms)",
        f"- ruamel.yaml peer median over files: {statistics.median(peer_all):.1f} ms",
        f"- ratio peer / obs-init: median **{statistics.median(ratios):.0f}x**, lowest {min(ratios):.0f}x (target: at least 20x)",
        "",
        "| file | obs-init ms | ruamel.yaml ms | ratio |",
        "| --- | ---: | ---: | ---: |",
        *rows,
        "",
        "Not measured: " + ("; ".join(skipped) if skipped else "none"),
        "",
    ]
    return summary


def synthetic(n: int) -> str:
    out = ["# synthetic compose file", "x-common-env: &common-env", "  TZ: UTC", "services:"]
    for i in range(n):
        out.append(f"  # service {i}")
        out.append(f"  svc{i}:")
        out.append(f"    image: example/svc:{i}")
        if i % 2:
            out.append("    environment:")
            out.append("      <<: *common-env")
            out.append(f"      INDEX: \"{i}\"")
        else:
            out.append("    environment:")
            out.append(f"      - INDEX={i}")
    return "\n".join(out) + "\n"


def peak_kib(cmd: list[str], cwd: Path) -> int:
    res = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], cwd=cwd, capture_output=True, text=True, check=False)
    return int(res.stderr.strip().splitlines()[-1])


def bench_scaling(work: Path) -> list[str]:
    rows, times = [], {}
    for n in (10, 100, 1000, 2000, 5000):
        text = synthetic(n)
        project = work / "s"
        service = f"svc{n - 1}"

        def setup() -> Path:
            shutil.rmtree(project, ignore_errors=True)
            project.mkdir()
            (project / "compose.yaml").write_text(text, encoding="utf-8")
            return project

        ours = median_ms([timed([str(BIN), "--yes", "--service", service], setup)[0] for _ in range(5)])
        peer = median_ms([timed([sys.executable, str(PEER), str(project), service], setup)[0] for _ in range(3)])
        setup()
        mem = peak_kib([str(BIN), "--yes", "--service", service], project)
        times[n] = ours
        rows.append(f"| {n} | {len(text) / 1024:.0f} | {ours:.1f} | {mem / 1024:.1f} | {peer:.0f} | {peer / ours:.0f}x |")
    slope_small = (times[1000] - times[100]) / 900 * 1000
    slope_large = (times[5000] - times[1000]) / 4000 * 1000
    return [
        "## 2. Scaling with the number of services",
        "",
        "| services | KiB | obs-init ms | obs-init peak MiB | ruamel.yaml ms | ratio |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        f"- 2,000 services: **{times[2000]:.1f} ms** (target: under 100 ms)",
        f"- per-service slope: {slope_small:.1f} µs between 100 and 1,000 services, "
        f"{slope_large:.1f} µs between 1,000 and 5,000 (linear when these agree)",
        "",
    ]


def make_monorepo(root: Path) -> None:
    """200,000 files: a small app, node_modules, .venv, and a generated tree git ignores."""
    marker = root / ".complete"
    if marker.exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    (root / "app").mkdir(parents=True)
    (root / "compose.yaml").write_text("services:\n  app:\n    build: .\n", encoding="utf-8")
    (root / "requirements.txt").write_text("fastapi\n", encoding="utf-8")
    (root / "app" / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n", encoding="utf-8")
    counts = {"node_modules": 100_000, ".venv/lib/site-packages": 50_000, "generated": 40_000, "src": 9_996}
    for folder, count in counts.items():
        for i in range(count):
            d = root / folder / f"pkg{i // 500}"
            if i % 500 == 0:
                d.mkdir(parents=True, exist_ok=True)
            ext = ".js" if folder == "node_modules" else ".py"
            (d / f"m{i}{ext}").write_text("x = 1\n", encoding="utf-8")
    (root / "gitignore.off").write_text("generated/\n", encoding="utf-8")
    marker.touch()


def bench_scan() -> list[str]:
    root = CACHE / "monorepo-200k"
    make_monorepo(root)
    files = sum(len(f) for _, _, f in os.walk(root))
    rows = []
    for label, ignore in (("without .gitignore", False), ("with .gitignore (generated/ ignored)", True)):
        gi = root / ".gitignore"
        if ignore:
            shutil.copy(root / "gitignore.off", gi)
        elif gi.exists():
            gi.unlink()
        cmd = [str(BIN), "--service", "app", "--dry-run", "--format", "json"]
        t = median_ms([timed(cmd, lambda: root)[0] for _ in range(5)])
        rows.append(f"| {label} | {t:.0f} |")
    (root / ".gitignore").unlink(missing_ok=True)
    return [
        "## 3. Detection scan on a monorepo",
        "",
        f"{files:,} files: 100,000 in node_modules, 50,000 in .venv, 40,000 in generated/, "
        "10,000 in src/. `obs-init --service app --dry-run` (detection scans the build "
        "context, the whole repo here), median of 5 runs; target under 300 ms.",
        "",
        "| | obs-init ms |",
        "| --- | ---: |",
        *rows,
        "",
    ]


def main() -> int:
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sections = bench_corpus(work) + bench_scaling(work) + bench_scan()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        platform.processor(),
    )
    peer_version = subprocess.run(
        [sys.executable, "-c", "import ruamel.yaml; print(ruamel.yaml.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    header = [
        "# Benchmark results",
        "",
        f"- machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"- peer: ruamel.yaml {peer_version} on Python {platform.python_version()} (bench/peers/ruamel_onboard.py)",
        "- command: `bench/run` (release build; every number from the same run)",
        "",
    ]
    report = "\n".join(header + sections)
    (ROOT / "bench" / "RESULTS.md").write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
