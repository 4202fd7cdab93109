"""What a school business manager sees when the directory file has a mistake: every problem
at once, each with its line, its entry by id and position counted from 1, and a fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.adapters.directory_file import DirectoryError, load_directory
from service.adapters.directory_reader import FIELDS
from tests.worlds import DIRECTORY

TEXT = DIRECTORY.read_text()
LINES = TEXT.splitlines()


def line_of(fragment: str) -> int:
    """The 1-based line of the fixture that holds `fragment`."""
    return next(n for n, line in enumerate(LINES, 1) if fragment in line)


def refused(tmp_path: Path, text: str, name: str = "people.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DirectoryError) as caught:
        load_directory(path)
    return str(caught.value)


def test_a_misspelt_safety_flag_is_refused_with_the_key_it_meant(tmp_path: Path) -> None:
    # "A misspelt key silently ignored would leave a person unmarked as safeguarding-trained."
    text = TEXT.replace("safe_word: red kite}", "safe_word: red kite, sefeguarding_trained: true}")
    message = refused(tmp_path, text)
    line = line_of("id: k-smith")
    assert (
        f'people.yaml line {line}, staff "k-smith" (2nd): sefeguarding_trained: unknown field; '
        "did you mean safeguarding_trained?"
    ) in message


def test_a_key_like_no_other_lists_the_fields_the_entry_has(tmp_path: Path) -> None:
    text = TEXT.replace("{id: sos-0001,", "{colour: red, id: sos-0001,")
    message = refused(tmp_path, text)
    assert f"colour: unknown field; a device entry has: {', '.join(FIELDS['device'])}" in message


def test_unknown_keys_are_refused_in_nested_entries_and_at_the_top(tmp_path: Path) -> None:
    text = TEXT.replace("ack_within: 60s,", "ack_withn: 60s,").replace(
        "organisation:", "organisaton:"
    )
    message = refused(tmp_path, text)
    assert "policy.sos.ack_withn: unknown field; did you mean ack_within?" in message
    assert "line 1: organisaton: unknown field; did you mean organisation?" in message


def test_a_misspelt_policy_is_refused_like_any_other_key(tmp_path: Path) -> None:
    message = refused(tmp_path, TEXT.replace("heartbeat:", "heartbeet:"))
    assert 'school "lancaster" (1st): policy.heartbeet: unknown field; did you mean heartbeat?' in (
        message
    )


def test_problems_name_the_line_and_the_entry_counting_from_one(tmp_path: Path) -> None:
    text = TEXT.replace('name: Kim Smith, phone: "+447700900002"', 'name: Kim Smith, phone: "07"')
    message = refused(tmp_path, text)
    assert f'line {line_of("id: k-smith")}, staff "k-smith" (2nd): phone:' in message
    assert "staff[1]" not in message


def test_every_problem_is_listed_at_once_in_the_order_of_the_file(tmp_path: Path) -> None:
    text = TEXT.replace(
        "reception1, school: lancaster, role: operator}",
        "reception1, school: lancaster, role: boss}",
    ).replace("safe_word: red kite}", "safe_word: red kite, trained: true}")
    message = refused(tmp_path, text)
    assert "has 2 problems; nothing was imported" in message
    assert message.index('staff "k-smith"') < message.index('user "reception1"')


def test_a_device_naming_an_unknown_staff_member_gets_one_error_not_two(tmp_path: Path) -> None:
    # "One cause, one error": the missing school follows from the unknown staff member.
    text = TEXT.replace(
        "{id: sos-0001, kind: sos_fob, staff: s-jones,",
        "{id: sos-0001, kind: sos_fob, staff: s-jnoes,",
    )
    message = refused(tmp_path, text)
    assert "has 1 problem;" in message
    assert "'s-jnoes' is not a staff member in this file" in message
    assert "is required when the device has no staff member" not in message


def test_a_device_naming_a_school_not_in_the_file_is_refused(tmp_path: Path) -> None:
    text = TEXT.replace(
        "{id: sos-0001, kind: sos_fob,", "{id: sos-0001, school: lancster, kind: sos_fob,"
    )
    message = refused(tmp_path, text)
    assert "device \"sos-0001\" (1st): school: 'lancster' is not a school in this file" in message


def test_a_key_given_twice_in_one_entry_is_refused(tmp_path: Path) -> None:
    # YAML keeps the last silently: a corrected value followed by a stale one would be lost.
    text = TEXT.replace("safe_word: red kite}", "safe_word: red kite, safe_word: owl}")
    message = refused(tmp_path, text)
    assert (
        f'line {line_of("id: k-smith")}, staff "k-smith" (2nd): safe_word: is given twice'
    ) in message


def test_a_yaml_syntax_error_names_the_file(tmp_path: Path) -> None:
    message = refused(tmp_path, "schools:\n  - id: a\n   name: b\n")
    assert "<unicode string>" not in message
    assert f'in "{tmp_path / "people.yaml"}", line 3' in message


KNOWN = {key for keys in FIELDS.values() for key in keys}
ENTRIES = [
    (n, line, re.search(r"\{(?:id|username): ([\w-]+)", line))
    for n, line in enumerate(LINES, 1)
    if line.startswith("  - {")
]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.dictionaries(
        st.sampled_from(range(len(ENTRIES))),
        st.from_regex(r"[a-z]{3,12}", fullmatch=True).filter(lambda k: k not in KNOWN),
        min_size=1,
        max_size=4,
    )
)
def test_every_problem_names_a_line_that_holds_it_and_an_entry_that_exists(
    tmp_path: Path, changes: dict[int, str]
) -> None:
    lines = list(LINES)
    for index, key in changes.items():
        n, line, _ = ENTRIES[index]
        lines[n - 1] = line.replace("  - {", f"  - {{{key}: 1, ", 1)
    message = refused(tmp_path, "\n".join(lines) + "\n")
    problems = message.splitlines()[1:]
    assert len(problems) == len(changes)
    ids = {m.group(1) for _, _, m in ENTRIES if m}
    for problem in problems:
        found = re.search(
            r'line (\d+), \w+ "([\w-]+)" \((\d+)\w\w\): (\w+): unknown field', problem
        )
        assert found, problem
        line, entry, _, key = int(found[1]), found[2], found[3], found[4]
        assert 1 <= line <= len(lines) and f"{key}: 1" in lines[line - 1]
        assert entry in ids and entry in lines[line - 1]
