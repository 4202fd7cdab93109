"""The record in words a DSL can take to a case review (service/records/narrative.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from projections.visit_timeline import purpose_words, step_words
from service.domain.people.naming import person
from service.records.narrative import (
    delivery_outcome,
    escalation_in_a_sentence,
    message_label,
    plan_words,
    said_words,
    visit_address,
)
from service.records.timeline import raised_words

RAISED = datetime(2026, 12, 4, 21, 37, tzinfo=UTC)


def told(*people: tuple[str, str], state: str = "sent") -> dict[str, Any]:
    return {
        f"n{i}": {"contact_name": name, "channel": channel, "state": state}
        for i, (name, channel) in enumerate(people)
    }


def test_people_are_named_as_they_are_known() -> None:
    assert person("operator:reception1") == "reception1 (contact centre)"
    assert person("dsl:dsl1") == "dsl1 (DSL)"
    assert person("A. Lead") == "A. Lead"  # a contact who took it by text or call
    assert person("device:sos-0001") == "device:sos-0001"
    assert person(None) == "nobody"


def test_the_escalation_in_one_sentence() -> None:
    alert = {
        "raised_at": RAISED.isoformat(),
        "notifications": told(
            ("Desk", "sms"),
            ("Desk", "voice"),
            ("A. Lead", "sms"),
            ("A. Lead", "voice"),
            ("B. Head", "sms"),
        ),
        "acknowledged_by": "A. Lead",
        "acknowledged_via": "voice",
        "acknowledged_at": (RAISED + timedelta(seconds=47)).isoformat(),
    }
    assert escalation_in_a_sentence(alert) == (
        "Texted 3 people and called 2; taken by A. Lead by key press on the call after 47 s."
    )


def test_an_alert_nobody_has_taken_says_so() -> None:
    assert escalation_in_a_sentence({"notifications": told(("Desk", "sms"))}) == (
        "Texted 1 person; not taken by anyone yet."
    )
    assert escalation_in_a_sentence({"notifications": {}}) == "Nobody told yet."


def test_a_message_cancelled_before_it_went_told_nobody() -> None:
    alert = {"notifications": told(("Desk", "sms"), state="cancelled")}
    assert escalation_in_a_sentence(alert) == "Nobody told yet."


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Desk", "A. Lead", "B. Head", "C. Senior"]),
            st.sampled_from(["sms", "voice"]),
        ),
        max_size=12,
    ),
    st.integers(min_value=0, max_value=7200),
)
def test_the_sentence_counts_each_person_once_per_channel(
    people: list[tuple[str, str]], seconds: int
) -> None:
    alert = {
        "raised_at": RAISED.isoformat(),
        "notifications": told(*people),
        "acknowledged_by": "operator:reception1",
        "acknowledged_via": "console",
        "acknowledged_at": (RAISED + timedelta(seconds=seconds)).isoformat(),
    }
    sentence = escalation_in_a_sentence(alert)
    texted = len({name for name, channel in people if channel == "sms"})
    called = len({name for name, channel in people if channel == "voice"})
    if texted:
        assert f"Texted {texted} {'person' if texted == 1 else 'people'}" in sentence
    if called:
        assert f"alled {called}" in sentence
    assert "taken by reception1 (contact centre) in the console after" in sentence.lower() or (
        "Taken by reception1 (contact centre) in the console after" in sentence
    )


def test_people_in_recorded_sentences_and_sources_are_named() -> None:
    from service.domain.people.naming import people_named
    from service.records.narrative import source_words

    assert people_named("acknowledged by operator:reception1: everyone told") == (
        "acknowledged by reception1 (contact centre): everyone told"
    )
    assert people_named("ended by staff:p-patel after 2 step(s)") == (
        "ended by p-patel (staff) after 2 step(s)"
    )
    assert source_words("policy:tier2") == "escalation, tier 2"
    assert source_words("policy:renotify1") == "escalation, reminder 1"
    assert source_words("policy:taken") == "escalation (taken)"
    assert source_words("dsl:dsl1") == "dsl1 (DSL)"


def test_held_back_until_is_told_in_the_schools_time_with_its_zone() -> None:
    from zoneinfo import ZoneInfo

    from service.records.timeline import local_until

    words = "re-notify round 2; held back by rate limits: A. Lead sms until 07:35:32 UTC"
    summer = datetime(2026, 7, 1, 7, 30, tzinfo=UTC)
    assert local_until(words, summer, ZoneInfo("Europe/London")).endswith(
        "A. Lead sms until 08:35:32 BST"
    )
    winter = datetime(2026, 12, 4, 7, 30, tzinfo=UTC)
    assert local_until(words, winter, ZoneInfo("Europe/London")).endswith("until 07:35:32 GMT")
    # Past midnight: the held-back time is the next day's.
    late = datetime(2026, 7, 1, 23, 59, tzinfo=UTC)
    assert local_until("until 00:01:00 UTC", late, ZoneInfo("Europe/London")) == (
        "until 01:01:00 BST"
    )


def test_a_message_reads_as_its_final_outcome_not_as_handed_over() -> None:
    """'sent' only says the provider took it; the provider's last report says what became of it."""
    assert delivery_outcome({"state": "sent", "delivery": "no_answer"}) == "no answer"
    assert delivery_outcome({"state": "sent", "delivery": "delivered"}) == "delivered"
    assert delivery_outcome({"state": "sent"}) == "sent"  # no report (yet): as before
    assert delivery_outcome({"state": "failed", "error": "bad number"}) == "failed (bad number)"
    assert delivery_outcome({"state": "cancelled"}) == "not sent (no longer needed)"
    assert delivery_outcome({"state": "failed", "refusal": "blocked"}) == "refused by the provider"


def test_each_message_says_which_of_the_escalation_it_was() -> None:
    assert message_label("tier1") == "first notice"
    assert message_label("tier2") == "tier 2"
    assert message_label("renotify2") == "reminder 2"
    assert message_label("taken") == "told who took it"
    assert message_label(None) == ""


def test_the_visit_address_comes_from_the_alerts_own_cause() -> None:
    assert visit_address({"cause": {"visit_address": "12 Acacia Road"}}) == "12 Acacia Road"
    assert visit_address({"visit": {"address": "7 Elm Close"}}) == "7 Elm Close"
    assert visit_address({"cause": {"location": {"lat": 1}}}) is None


def test_an_escalation_step_reads_as_a_plan_not_as_settings() -> None:
    assert plan_words("policy sos: tier 1 (contact_centre)") == (
        "Escalation plan for an SOS: first the contact centre"
    )
    assert plan_words(
        "policy sos: tier 2 (dsl) added: no acknowledgement within 60s (ack_within 60s per tier)"
    ) == (
        "Escalation plan for an SOS: tier 2 (the DSL) added: nobody had taken it within 60 s "
        "(each tier is given 60 s to take it)"
    )
    assert "reminders every 60 s" in plan_words(
        "policy sos: re-notify round 2: no acknowledgement 120s after the alert "
        "(renotify_every 60s; reminders back off per person)"
    )


def test_a_duress_alert_on_the_sos_plan_says_so_and_its_own_plan_is_named_duress() -> None:
    assert plan_words("policy sos: tier 1 (contact_centre)", "duress").startswith(
        "Escalation plan for an SOS (a duress alert follows it: the school names no duress plan)"
    )
    assert plan_words("policy duress: tier 1 (dsl)", "duress") == (
        "Escalation plan for a duress: first the DSL"
    )


def test_the_overdue_alerts_own_ladder_is_not_news_of_a_missing_setting() -> None:
    old = (
        "the visit's overdue ladder escalates it (visitor, then reception rings home, "
        "then senior leaders); the overdue policy names no tiers"
    )
    assert "names no tiers" not in plan_words(old)
    assert plan_words("acknowledged by A. Lead: told who took it") == (
        "acknowledged by A. Lead: told who took it"
    )


def test_a_visits_ladder_steps_and_purpose_are_said_in_the_policies_words() -> None:
    assert step_words("contact_staff") == "the visitor is texted and called"
    assert step_words("reception_calls_home") == "reception rings the pupil's home"
    assert step_words("some_new_step") == "some new step"  # as recorded, without the code's _
    assert purpose_words("safe_and_well") == "safe and well"


def _raised(kind: str, cause: dict[str, Any], silent: bool = False) -> Any:
    return SimpleNamespace(kind=kind, cause=cause, device="sos-0001", silent=silent)


def test_a_duress_alert_says_what_raised_it_and_that_it_stayed_silent() -> None:
    """Duress: 'nothing the visitor's phone sees may differ', and the record shows it."""
    assert raised_words(_raised("duress", {"via": "sms", "text": "t1"}, silent=True)) == (
        "duress alert raised: the safe word in a text; silent: nothing was sent to the visitor"
    )
    assert raised_words(_raised("duress", {"device_kind": "checkin"}, silent=True)).startswith(
        "duress alert raised: the safe word in a check-in on device sos-0001"
    )
    assert raised_words(_raised("sos", {"device_kind": "sos"})) == "sos alert raised"  # as before
    assert raised_words(_raised("sos", {"via": "sms"})) == "sos alert raised: by text"


def test_a_requested_message_prints_what_it_said_and_an_old_one_without_a_body_nothing() -> None:
    assert said_words(SimpleNamespace(body="LONEWATCH: SOS")) == '; it said: "LONEWATCH: SOS"'
    assert said_words(SimpleNamespace()) == ""
