"""No-op re-run: a completed pipeline run again with the same --run-id, against its first run.

A throw-away plugin is installed as a real distribution in a temporary site directory
(as tests/conftest.py does): `generate` writes a few large files of random bytes,
`checksum` reads them all back and computes over them (no sleeping), `report` writes
a summary. Both runs go through the CLI in this process; the second should skip every
step, paying only for stat calls thanks to the (inode, mtime, size) hash cache. A small
warm-up run first imports everything, so neither timed run pays for imports.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

from common import command_line, median, parser, report, timed

PLUGIN = "benchrerun"
MODULE = "framework_bench_rerun"

SOURCE = """
import json
import os
import zlib

import attrs

from framework import Step, field, hookimpl

CHUNK = 1 << 20


@attrs.define
class GenerateConfig:
    files: int = field(3, min=1, help="how many files to write")
    size_mb: int = field(64, min=1, help="size of each file in MiB")


def generate(ctx):
    for i in range(ctx.config.files):
        with ctx.output(f"data/part{i}.bin") as tmp, open(tmp, "wb") as fh:
            for _ in range(ctx.config.size_mb):
                fh.write(os.urandom(CHUNK))


def checksum(ctx):
    sums = {}
    for name in sorted(os.listdir(ctx.run_dir / "data")):
        crc, total = 0, 0
        with open(ctx.input(f"data/{name}"), "rb") as fh:
            while chunk := fh.read(CHUNK):
                crc = zlib.crc32(chunk, crc)
                total += sum(chunk[::4096])  # a little pure-Python work per chunk
        sums[name] = {"crc32": crc, "sample_sum": total}
    ctx.write_json("checksums.json", sums)


def summarise(ctx):
    sums = ctx.read_json("checksums.json")
    ctx.write_text("report.txt", "".join(f"{k} {v['crc32']:08x}\\n" for k, v in sums.items()))


@hookimpl
def register_steps(register):
    register(Step(id="benchrerun.generate", run=__name__ + ":generate", config=__name__ + ":GenerateConfig",
                  outputs=["data/part*.bin"], description="write large random files"))
    register(Step(id="benchrerun.checksum", run=__name__ + ":checksum", requires=["generate"],
                  inputs=["data/part*.bin"], outputs=["checksums.json"], description="read them all back"))
    register(Step(id="benchrerun.report", run=__name__ + ":summarise", requires=["checksum"],
                  inputs=["checksums.json"], outputs=["report.txt"], description="write a summary"))
"""


def install_plugin(site: Path) -> None:
    """The plugin as a real distribution with an entry point, first on sys.path."""
    site.mkdir(parents=True)
    (site / f"{MODULE}.py").write_text(textwrap.dedent(SOURCE))
    info = site / f"{MODULE}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {MODULE.replace('_', '-')}\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text(f"[framework.plugins]\n{PLUGIN} = {MODULE}\n")
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    for key in [k for k in os.environ if k.startswith("FRAMEWORK_")]:
        del os.environ[key]
    os.environ["FRAMEWORK_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only this plugin and the built-ins
    os.environ["FRAMEWORK_PLUGINS"] = PLUGIN


def run_cli(args: list[str]) -> None:
    from framework.cli import main

    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exc:
            if exc.code:
                raise RuntimeError(
                    f"framework {' '.join(args)} exited {exc.code}: {err.getvalue().strip()}"
                ) from None


def statuses(run_dir: Path) -> dict[str, str]:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    return {step: record["status"] for step, record in manifest["steps"].items()}


def main(argv: list[str] | None = None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--size-mb", type=int, default=64, help="MiB per file (default 64)")
    p.add_argument("--files", type=int, default=3, help="files the first step writes (default 3)")
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="first/second run pairs, each in a fresh artifact root (default 3)",
    )
    p.add_argument(
        "--dir",
        help="where the temporary site and artifact roots go (default: the system temp dir)",
    )
    args = p.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-rerun-", dir=args.dir))
    try:
        install_plugin(work / "site")
        sizes = ["--files", str(args.files), "--size-mb", str(args.size_mb), "--quiet"]
        run_cli(
            [
                "run",
                "benchrerun.report",
                "--artifact-root",
                str(work / "warmup"),
                "--run-id",
                "w",
                "--files",
                "1",
                "--size-mb",
                "1",
                "--quiet",
            ]
        )
        first, second = [], []
        for i in range(args.repeat):
            root = work / f"root{i}"
            cmd = [
                "run",
                "benchrerun.report",
                "--artifact-root",
                str(root),
                "--run-id",
                "bench",
                *sizes,
            ]
            first.append(timed(lambda cmd=cmd: run_cli(cmd)))
            assert set(statuses(root / "bench").values()) == {"completed"}, statuses(root / "bench")
            second.append(timed(lambda cmd=cmd: run_cli(cmd)))
            skipped = statuses(root / "bench")
            assert set(skipped.values()) == {"skipped"}, (
                f"the re-run did not skip everything: {skipped}"
            )
            shutil.rmtree(root)
            print(
                f"pair {i + 1}: first run {first[-1]:.3f} s, re-run {second[-1] * 1e3:.1f} ms (all steps skipped)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        sys.path[:] = [s for s in sys.path if not s.startswith(str(work))]

    t1, t2 = median(first), median(second)
    ratio = t2 / t1
    total = args.files * args.size_mb
    print(
        f"{args.files} x {args.size_mb} MiB: first run median {t1:.3f} s, no-op re-run median {t2 * 1e3:.1f} ms"
    )
    print(f"ratio re-run / first run: {ratio:.4f} ({1 / ratio:.0f}x faster)")
    return report(
        args,
        name=f"no-op re-run vs first run ({args.files} x {args.size_mb} MiB outputs)",
        figure=f"{ratio:.3f}x ({t2 * 1e3:.0f} ms vs {t1:.2f} s, {total} MiB written)",
        target="none set (lower is better; every step must be skipped)",
        met=None,
        command=command_line(
            "rerun.py",
            [
                "--size-mb",
                str(args.size_mb),
                "--files",
                str(args.files),
                "--repeat",
                str(args.repeat),
            ],
        ),
        details={"first_s": first, "rerun_s": second, "ratio": ratio, "mib": total},
    )


if __name__ == "__main__":
    main()
