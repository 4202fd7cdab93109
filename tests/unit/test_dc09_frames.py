"""Every DC-09 frame Lonewatch emits is read by a real receiver's parser (pysiaalarm's, as
Home Assistant uses it) with a valid CRC, its fields intact, plain and AES-encrypted; and
every answer that receiver gives is read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pysiaalarm import SIAAccount
from pysiaalarm.base_server import BaseSIAServer
from pysiaalarm.event import NAKEvent, SIAEvent
from pysiaalarm.utils import Counter, ResponseType

from service.adapters.arc.dc09 import (
    PAD_ALPHABET,
    Answer,
    ArcAccount,
    FrameError,
    SiaEvent,
    crc16,
    encode,
    location_xdata,
    next_sequence,
    parse_reply,
    xdata_text,
)

NOW = datetime(2026, 12, 6, 9, 30, 15, tzinfo=UTC)
CODES = ["PA", "PR", "HA", "HR", "MA", "MR"]
XDATA_IDS = "AHIJLNOPSTVXYZ"  # pysiaalarm's known ones but K (a key request) and M (MAC)


def receiver(arc: ArcAccount) -> BaseSIAServer:
    """pysiaalarm's parser and checks, as its TCP and UDP servers run them."""
    return BaseSIAServer({arc.account: SIAAccount(arc.account, arc.key)}, Counter())


def received(frame: bytes, arc: ArcAccount) -> SIAEvent:
    event = receiver(arc).parse_and_check_event(frame)
    assert isinstance(event, SIAEvent), f"pysiaalarm refused {frame!r}"
    return event


accounts = st.builds(
    ArcAccount,
    account=st.text("0123456789ABCDEF", min_size=3, max_size=16),
    receiver=st.text("0123456789ABCDEF", min_size=1, max_size=6).map(lambda r: f"R{r}"),
    prefix=st.text("0123456789ABCDEF", min_size=1, max_size=6).map(lambda p: f"L{p}"),
    key=st.none()
    | st.sampled_from([16, 24, 32]).flatmap(
        lambda n: st.text("0123456789ABCDEFabcdef", min_size=n, max_size=n)
    ),
)
xdata_values = (
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=40).map(xdata_text).filter(bool)
)
events = st.builds(
    SiaEvent,
    code=st.sampled_from(CODES),
    zone=st.integers(0, 999),
    extended=st.lists(st.tuples(st.sampled_from(XDATA_IDS), xdata_values), max_size=4).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(
    arc=accounts,
    event=st.none() | events,
    sequence=st.integers(1, 9999),
    pad=st.text(PAD_ALPHABET, min_size=1, max_size=16),
    skew=st.integers(-30, 15),
)
def test_every_frame_parses_with_pysiaalarm_with_a_valid_crc(
    arc: ArcAccount, event: SiaEvent | None, sequence: int, pad: str, skew: int
) -> None:
    """Random accounts, codes, zones, sequences, extended data and keys: pysiaalarm reads the
    frame, its CRC and length match, and it would answer ACK."""
    now = datetime.now(UTC) + timedelta(seconds=skew)  # inside pysiaalarm's window
    frame = encode(arc, sequence=sequence, now=now, event=event, pad=pad)
    parsed = received(frame, arc)
    assert parsed.valid_message, (parsed.msg_crc, parsed.calc_crc)
    # The length is hex, as DC-09 says (pysiaalarm's own `valid_length` reads it as decimal,
    # and its checks do not use it).
    assert int(parsed.length or "", 16) == len(parsed.full_message or "")
    assert parsed.encrypted is arc.encrypted
    assert (parsed.account, parsed.receiver, parsed.line) == (arc.account, arc.receiver, arc.prefix)
    assert int(parsed.sequence or 0) == sequence
    assert parsed.timestamp == now.replace(microsecond=0)
    if event is None:
        assert parsed.message_type.value == "NULL" and parsed.code == "RP"
    else:
        assert (parsed.code, int(parsed.ri or -1)) == (event.code, event.zone)
        got = [(x.identifier, x.value) for x in parsed.extended_data or []]
        assert got == list(event.extended)
    assert parsed.response is ResponseType.ACK
    assert parse_reply(parsed.create_response(), arc).confirms(sequence)  # type: ignore[union-attr]


@given(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=200))
def test_the_crc_is_the_one_pysiaalarm_computes(text: str) -> None:
    assert f"{crc16(text):04X}" == SIAEvent._crc_calc(text)


def test_an_sos_frame_carries_the_zone_the_location_and_the_alarm_text() -> None:
    """INTERFACES §9: `ri` the device's zone, `PA`, [X…] longitude, [Y…] latitude, [I…] text."""
    arc = ArcAccount("4271")
    event = SiaEvent(
        "PA", 7, (*location_xdata(51.5392, 0.7123), ("I", xdata_text("Zoë Jones K7Q2")))
    )
    frame = encode(arc, sequence=12, now=NOW, event=event)
    assert frame == (
        b'\n1DE90061"SIA-DCS"0012R0L0#4271[#4271|Nri7/PA][XE0.71230][YN51.53920]'
        b"[IZoe Jones K7Q2]_09:30:15,12-06-2026\r"
    )
    assert received(frame, arc).valid_message  # 1DE9: the CRC pysiaalarm computes


def test_an_encrypted_frame_hides_everything_but_the_account() -> None:
    arc = ArcAccount("4271", key="0123456789ABCDEF")
    frame = encode(arc, sequence=3, now=NOW, event=SiaEvent("HA", 1, (("I", "Sam K7Q2"),)), pad="q")
    assert frame.startswith(b"\n") and b'"*SIA-DCS"0003R0L0#4271[' in frame
    assert b"Sam" not in frame and b"HA" not in frame


def test_a_nak_gives_the_receivers_clock_and_confirms_nothing() -> None:
    arc = ArcAccount("4271")
    late = encode(
        arc, sequence=5, now=datetime.now(UTC) - timedelta(minutes=10), event=SiaEvent("PA")
    )
    event = received(late, arc)
    assert event.response is ResponseType.NAK
    reply = parse_reply(event.create_response(), arc)
    assert reply is not None and reply.answer is Answer.NAK and not reply.confirms(5)
    assert reply.receiver_time is not None
    assert abs((reply.receiver_time - datetime.now(UTC)).total_seconds()) < 5


def test_answers_are_read_leniently() -> None:
    arc = ArcAccount("4271")
    assert parse_reply(b'"ACK"', arc) == parse_reply(b'"ACK"', arc)
    bare = parse_reply(b'"ACK"', arc)
    assert bare is not None and bare.confirms(9) and not bare.crc_ok
    padded = b'\n0000001C"ACK"0009R0L0#4271[][Zpad]\r\x00\x00'
    reply = parse_reply(padded, arc)
    assert reply is not None and reply.confirms(9) and not reply.crc_ok  # CRC wrong, still ACK
    assert not reply.confirms(8)  # an ACK for an older message confirms nothing new
    assert parse_reply(NAKEvent().create_response(), arc).answer is Answer.NAK  # type: ignore[union-attr]
    assert parse_reply(b"hello", arc) is None


def test_sequence_numbers_run_1_to_9999_and_wrap() -> None:
    assert next_sequence(0) == 1 and next_sequence(41) == 42 and next_sequence(9999) == 1


@pytest.mark.parametrize(
    ("account", "receiver", "prefix", "key", "words"),
    [
        ("42", "R0", "L0", None, "3-16 hex digits"),
        ("4271", "0", "L0", None, "like R0"),
        ("4271", "R0", "X1", None, "like L0"),
        ("4271", "R0", "L0", "tooshort", "16, 24 or 32"),
    ],
)
def test_settings_a_frame_cannot_carry_are_refused_in_words(
    account: str, receiver: str, prefix: str, key: str | None, words: str
) -> None:
    with pytest.raises(FrameError, match=words):
        ArcAccount(account, receiver, prefix, key)


def test_extended_data_cannot_break_the_frame() -> None:
    assert xdata_text("Zoë [O'Neill] | x") == "Zoe O'Neill  x"
    with pytest.raises(FrameError):
        SiaEvent("PA", 1, (("I", "a]b"),))
