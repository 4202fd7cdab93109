"""`lonewatch directory import FILE` as a person runs it, with a mistake in the file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.worlds import DIRECTORY

REPO = Path(__file__).resolve().parents[2]


def test_a_misspelt_key_is_refused_on_the_command_line_and_nothing_is_imported(
    tmp_path: Path,
) -> None:
    people = tmp_path / "people.yaml"
    people.write_text(
        DIRECTORY.read_text().replace(
            "safe_word: red kite}", "safe_word: red kite, sefeguarding_trained: true}"
        )
    )
    line = next(n for n, t in enumerate(people.read_text().splitlines(), 1) if "k-smith" in t)
    database = tmp_path / "d.sqlite3"
    result = subprocess.run(
        [sys.executable, "-m", "service.entrypoints.cli.main", "directory", "import", str(people)],
        env={**os.environ, "LW_DATABASE_URL": f"sqlite:///{database}", "PYTHONPATH": str(REPO)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0 and "created" not in result.stdout
    assert result.stderr.splitlines()[-2:] == [
        f"lonewatch: {people} has 1 problem; nothing was imported. Lines and entries are counted from 1:",
        f'  {people} line {line}, staff "k-smith" (2nd): sefeguarding_trained: unknown field; '
        "did you mean safeguarding_trained?",
    ]
