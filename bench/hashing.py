"""Hashing throughput: framework.hashing.hash_file against `sha256sum` on a 1 GiB file.

The file is random bytes, written once and read once before timing, so both sides read
it from the page cache and the figure is the hashing itself. The two alternate, in
this one command; the ratio is framework throughput over sha256sum throughput.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from common import command_line, median, parser, report, timed
from framework.hashing import hash_file

CHUNK = 1 << 20


def write_random(path: Path, size_mb: int) -> None:
    with open(path, "wb") as fh:
        for _ in range(size_mb):
            fh.write(os.urandom(CHUNK))


def sha256sum(path: Path) -> str:
    out = subprocess.run(
        ["sha256sum", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return "sha256:" + out.split()[0]


def main(argv: list[str] | None = None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument(
        "--size-mb", type=int, default=1024, help="file size in MiB (default 1024 = 1 GiB)"
    )
    p.add_argument("--repeat", type=int, default=3, help="alternations of the two (default 3)")
    p.add_argument("--dir", help="where the temporary file goes (default: the system temp dir)")
    args = p.parse_args(argv)
    if shutil.which("sha256sum") is None:
        p.error("sha256sum (GNU coreutils) is not on PATH")

    with tempfile.TemporaryDirectory(prefix="bench-hashing-", dir=args.dir) as tmp:
        path = Path(tmp) / "data.bin"
        write_random(path, args.size_mb)
        expected = sha256sum(path)  # also pulls the file into the page cache
        assert hash_file(path) == expected, "hash_file and sha256sum disagree"
        ours, theirs = [], []
        for i in range(args.repeat):
            runs = [(ours, lambda: hash_file(path)), (theirs, lambda: sha256sum(path))]
            for times, func in runs if i % 2 == 0 else reversed(runs):
                times.append(timed(func))

    mib = args.size_mb
    t_ours, t_theirs = median(ours), median(theirs)
    rate_ours, rate_theirs = mib / t_ours, mib / t_theirs
    ratio = rate_ours / rate_theirs
    print(f"{mib} MiB, {args.repeat} alternations (median):")
    print(f"  framework.hashing.hash_file  {t_ours:.3f} s  {rate_ours:7.0f} MiB/s")
    print(f"  sha256sum                    {t_theirs:.3f} s  {rate_theirs:7.0f} MiB/s")
    print(f"  throughput ratio (framework / sha256sum): {ratio:.2f}x")
    return report(
        args,
        name=f"hashing: hash_file vs sha256sum ({mib} MiB file)",
        figure=f"{ratio:.2f}x ({rate_ours:.0f} MiB/s vs {rate_theirs:.0f} MiB/s)",
        target="none set (throughput ratio; 1x = as fast as sha256sum)",
        met=None,
        command=command_line("hashing.py", ["--size-mb", str(mib), "--repeat", str(args.repeat)]),
        details={"hash_file_s": ours, "sha256sum_s": theirs, "ratio": ratio, "mib": mib},
    )


if __name__ == "__main__":
    main()
