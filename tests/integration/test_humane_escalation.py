"""Escalation that stays humane, seen from the phones: the ladder in simulated time sending
through the real `twilio` library to the local double.

Numbers refused for good (21211 invalid, 21610 after STOP) are not asked again and the
ladder still reaches the DSL, the head and SLT; an SOS nobody takes for 18 minutes keeps
reminding everyone, within the limits of docs/escalation.md; the visitor's "reply OK"
prompt at the leave deadline reaches the visitor's phone.

Policy (tests/fixtures/directory.yaml, Lancaster): sos ack_within 60s, renotify_every 60s,
tiers [[contact_centre], [dsl], [headteacher, slt]].
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from service.adapters.notifiers.twilio_notifier import TwilioNotifier
from service.domain.alerts.limits import LIMITS
from service.domain.alerts.notifications import Channel
from service.workers.dispatcher import Dispatcher
from simulators.twilio_double import TwilioDouble
from tests.harness import eventually
from tests.integration.test_escalation import Ladder
from tests.integration.test_visit_ladder import a_lone_visit_under_way
from tests.visit_worlds import VisitWorld, at

SID = "AC" + "4a1e" * 8
TOKEN = "humane-auth-token"
FROM = "+441702999999"
NOWHERE = "http://127.0.0.1:9"  # status callbacks go nowhere: these tests read the requests
CC1, CC2, DSL, HEAD, SLT = (f"+44170200001{n}" for n in (0, 4, 1, 2, 3))
JONES = "+447700900001"


def twilio(double: TwilioDouble) -> TwilioNotifier:
    return TwilioNotifier(SID, TOKEN, FROM, api_base=double.base_url, public_url=NOWHERE)


class Phones:
    """The ladder's world with a dispatcher sending to the double; time moves when told."""

    def __init__(self, ladder: Ladder, double: TwilioDouble) -> None:
        self.ladder, self.double = ladder, double
        self.dispatcher = Dispatcher(
            ladder.app, ladder.world.views, twilio(double), backoff=(0.01, 0.01, 0.01)
        )

    async def settle(self) -> None:
        """Fire due timers and send what they requested, until nothing new is requested
        (a refusal can request more at once: the other channel, the next tier)."""
        seen = -1
        for _ in range(20):
            self.ladder.settle()
            await self.dispatcher.start()
            await eventually(lambda: not self.dispatcher._inflight, what="dispatcher idle")
            count = len(self.ladder.notifications())
            if count == seen:
                return
            seen = count
        raise AssertionError("notifications kept being requested")

    async def after(self, seconds: float) -> None:
        self.ladder.clock.advance(timedelta(seconds=seconds))
        await self.settle()

    async def sos(self) -> UUID:
        alert_id = self.ladder.sos()
        await self.settle()
        return alert_id

    def asked(self, kind: str, to: str) -> int:
        records = self.double.messages if kind == "messages" else self.double.calls
        return sum(1 for r in records if r["form"].get("To") == to)

    def reached(self, kind: str) -> set[str]:
        """Numbers the double accepted a request for (refused ones are recorded too)."""
        records = self.double.messages if kind == "messages" else self.double.calls
        return {r["form"]["To"] for r in records if r["status"] == 201}


@pytest.fixture
def ladder(sqlite_url: str) -> Iterator[Ladder]:
    made = Ladder(sqlite_url)
    yield made
    made.world.close()


@pytest.fixture
async def phones(ladder: Ladder) -> AsyncIterator[Phones]:
    async with TwilioDouble(SID, TOKEN) as double:
        made = Phones(ladder, double)
        try:
            yield made
        finally:
            await made.dispatcher.stop()
            await made.dispatcher.notifier.aclose()


async def test_the_contact_centre_numbers_invalid_the_dsl_is_told_at_once_then_head_and_slt(
    phones: Phones,
) -> None:
    """21211 (not a valid number) for both contact-centre numbers, text and call: each is
    tried once, never retried nor asked again; nobody in tier 1 can be reached, so the DSL is
    told at once rather than after ack_within; the head and SLT on time; the console sees
    each refusal in words, and a notification_failed alert per unreachable contact."""
    for number in (CC1, CC2):
        phones.double.refuse(number, 21211)

    alert_id = await phones.sos()

    assert {DSL} <= phones.reached("messages") and {DSL} <= phones.reached("calls")
    await phones.after(60)
    await phones.after(60)
    assert {DSL, HEAD, SLT} <= phones.reached("messages")
    assert {DSL, HEAD, SLT} <= phones.reached("calls")
    await phones.after(600)
    for number in (CC1, CC2):
        assert (phones.asked("messages", number), phones.asked("calls", number)) == (1, 1)

    alert = phones.ladder.alert(alert_id)
    refusals = {
        (n["to"], n["channel"]): n["refusal"]
        for n in alert["notifications"].values()
        if n.get("refusal")
    }
    words = "number refused: not a valid phone number — 21211"
    assert refusals == {(cc, ch): words for cc in (CC1, CC2) for ch in ("sms", "voice")}
    reasons = [s["reason"] for s in alert["escalation"]["steps"]]
    assert any("tier 2 (dsl) added: nobody tier 1 added can be reached" in r for r in reasons)
    failed = [
        a for a in phones.ladder.world.views.find("alert") if a["kind"] == "notification_failed"
    ]
    assert sorted(a["cause"]["to"] for a in failed) == sorted([CC1, CC2])


async def test_a_number_unsubscribed_by_stop_is_still_called_and_the_ladder_climbs(
    phones: Phones,
) -> None:
    """21610 (the contact texted STOP) refuses texts only: the contact-centre desk is still
    called and reminded by call, never texted again on this alert; the DSL, head and SLT are
    told on time."""
    phones.double.refuse(CC1, 21610, kinds=("messages",))

    alert_id = await phones.sos()
    for _ in range(4):
        await phones.after(60)

    assert {DSL, HEAD, SLT} <= phones.reached("messages") & phones.reached("calls")
    assert phones.asked("messages", CC1) == 1
    assert CC1 in phones.reached("calls") and phones.asked("calls", CC1) >= 2
    alert = phones.ladder.alert(alert_id)
    [refused] = [n for n in alert["notifications"].values() if n.get("refusal")]
    assert (refused["to"], refused["channel"]) == (CC1, "sms")
    assert refused["refusal"] == "number refused: unsubscribed (STOP) — 21610"
    assert refused["state"] == "failed" and refused["failed_at"]


def most_per_channel(first: timedelta, until: timedelta, channel: Channel) -> int:
    """The most messages one contact can get on one channel between `first` and `until`,
    from the limits alone: the first at once, then each reminder at least its backoff gap
    after the one before, and never more than the hourly window allows."""
    count, elapsed = 1, first
    while True:
        elapsed += LIMITS.gap(count, timedelta(seconds=60))
        if elapsed > until:
            break
        count += 1
    hourly = min(w.count for w in LIMITS.windows[channel] if w.within >= timedelta(hours=1))
    return min(count, hourly)


async def test_an_sos_nobody_takes_for_18_minutes_keeps_reminding_within_the_limits(
    phones: Phones,
) -> None:
    """Before: 150 messages in 18 minutes, everyone texted and called every 60 s. Now each
    person's reminders back off (docs/escalation.md) and nobody goes longer than the cap
    without a text while nobody has taken the alert."""
    await phones.sos()
    for _ in range(18):
        await phones.after(60)

    until = timedelta(minutes=18)
    first_told = {CC1: 0, CC2: 0, DSL: 1, HEAD: 2, SLT: 2}  # minutes: tier by tier
    most = sum(
        most_per_channel(timedelta(minutes=m), until, channel)
        for m in first_told.values()
        for channel in Channel
    )
    sent = len(phones.double.messages) + len(phones.double.calls)
    print(f"\n{sent} requests in 18 untaken minutes; at most {most} by the limits (was 150)")
    assert 0 < sent <= most < 150

    texts: dict[str, list[datetime]] = defaultdict(list)
    for n in phones.ladder.notifications():
        if n["channel"] == "sms":
            texts[n["to"]].append(datetime.fromisoformat(n["requested_at"]))
    assert set(texts) == set(first_told)
    end = phones.ladder.clock.now()
    for number, times in texts.items():
        times.sort()
        gaps = [b - a for a, b in zip(times, [*times[1:], end], strict=True)]
        assert max(gaps) <= LIMITS.backoff_cap, (number, gaps)
        assert len(times) >= 4, number  # still reminded, not silenced


async def test_the_leave_prompt_reaches_the_visitor(sqlite_url: str) -> None:
    """'Let the school know immediately that they have left the property': at the leave
    deadline the visitor is texted and asked to reply OK. The prompt is about a visit, not an
    alert; it used to be refused before sending ('alert not found')."""
    world = VisitWorld(sqlite_url)
    try:
        async with TwilioDouble(SID, TOKEN) as double:
            visit_id = a_lone_visit_under_way(world)
            world.run_until(at(10, 25))
            dispatcher = Dispatcher(world.app, world.views, twilio(double), backoff=(0.01,))
            try:
                await dispatcher.start()
                [message] = await double.wait_for_messages(1)
                await eventually(lambda: not dispatcher._inflight, what="dispatcher idle")
            finally:
                await dispatcher.stop()
                await dispatcher.notifier.aclose()
        assert message["status"] == 201 and message["form"]["To"] == JONES
        assert "Reply OK" in message["form"]["Body"]
        [prompt] = world.notifications(to=JONES)
        assert prompt["alert_id"] == str(visit_id)
        assert prompt["state"] == "sent" and prompt["provider_id"]
    finally:
        world.close()
