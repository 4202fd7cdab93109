"""Each school's own visit policy, as data, enforced by the Visit aggregate alone (no I/O,
no clock). Every test quotes the written policy it holds Lonewatch to; the policies are the
five schools' in the project's shared folder (SEN Trust Southend, Cottenham Village College,
Roselyn House, William Lilley, King's Academy Gomer)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from service.domain.errors import DomainError
from service.domain.people.access import Principal
from service.domain.people.directory import Role
from service.domain.visits.decisions import DuringPolicy
from service.domain.visits.policy import STATEMENTS, Confirmation, VisitPolicy, parse_visit_policy
from service.domain.visits.policy_sheet import sheet
from service.domain.visits.readiness import checks, summary
from service.domain.visits.visit import Visit
from tests.unit.test_visit_rules import APPENDIX, DSL, FIT_DEVICE, HEAD, NINE, POLICY, a_visit

SLT = Principal("slt1", "lancaster", Role.SLT)
STAFF = Principal("s-jones", "lancaster", Role.STAFF)
PARTNER = Principal("s-khan", "lancaster", Role.STAFF)
OPERATOR = Principal("reception1", "lancaster", Role.OPERATOR)


def rules(**data: Any) -> VisitPolicy:
    """A school's `policy.visits`, read as the directory import reads it."""
    checked, problems = parse_visit_policy(data, "schools[0].policy.visits")
    assert not problems, problems
    return VisitPolicy.from_school({"visits": checked})


def assessed(visit: Visit) -> Visit:
    visit.assess_risk(hazards=APPENDIX, by="dsl:dsl1", timestamp=NINE)
    return visit


def authorise(
    visit: Visit, who: Principal, policy: VisitPolicy, trained: tuple[str, ...] = ()
) -> None:
    visit.authorise(
        principal=who,
        working_hours="08:00-18:00",
        timezone="Europe/London",
        timestamp=NINE,
        rules=policy,
        trained=trained,
    )


def event_names(visit: Visit) -> list[str]:
    return [type(e).__qualname__ for e in visit.collect_events()]


# -- who authorises ------------------------------------------------------------------


def test_cottenham_visits_are_authorised_by_the_safeguarding_officer_only() -> None:
    """Cottenham: "ALL HOME VISITS CONDUCTED BY STAFF MUST BE AUTHORISED BY THE
    SAFEGUARDING OFFICER." """
    cottenham = rules(authorised_by=["dsl"])
    visit = assessed(a_visit())
    with pytest.raises(
        DomainError,
        match="cannot authorise home visits at this school: ask the designated safeguarding lead",
    ):
        authorise(visit, HEAD, cottenham)
    authorise(visit, DSL, cottenham)
    assert visit.authorised_by == "dsl:dsl1"


def test_sen_trust_lets_the_headteacher_slt_or_dsl_authorise() -> None:
    """SEN Trust: "Obtain formal approval from the relevant member of staff, usually the
    Headteacher but may be a member of SLT or DSL, where appropriate" """
    sen = rules(authorised_by=["headteacher", "slt", "dsl"])
    for who in (HEAD, SLT, DSL):
        visit = assessed(a_visit())
        authorise(visit, who, sen)
        assert visit.authorised_by == who.actor
    with pytest.raises(DomainError, match="a operator cannot authorise"):
        authorise(assessed(a_visit()), OPERATOR, sen)


def test_without_a_visit_policy_the_headteacher_or_dsl_authorise_as_before() -> None:
    """The default is the rule every school had: "Home visits must be authorised in advance
    by the Associate Headteacher or Designated Safeguarding Lead (DSL)" (King's Academy
    Gomer), and SLT may not."""
    assert VisitPolicy.from_school({}) == VisitPolicy()
    with pytest.raises(DomainError, match="a slt cannot authorise"):
        authorise(assessed(a_visit()), SLT, VisitPolicy())
    visit = assessed(a_visit())
    authorise(visit, DSL, VisitPolicy())
    assert "Visit.PolicyApplied" not in event_names(visit)  # nothing new is recorded


def test_an_evening_visit_needs_the_headteacher_whoever_else_authorises() -> None:
    """Roselyn House: "Do not make an evening home visit unless expressly agreed with the
    Headteacher." Even where the DSL authorises every other visit."""
    cottenham = rules(authorised_by=["dsl"])
    evening = assessed(a_visit(start=NINE + timedelta(hours=9)))  # 18:00-19:00
    with pytest.raises(DomainError, match="headteacher's express approval"):
        authorise(evening, DSL, cottenham)
    authorise(evening, HEAD, cottenham)


# -- pairs and companions ------------------------------------------------------------


def test_william_lilley_visits_are_always_accompanied() -> None:
    """William Lilley: "They are accompanied on the home visit either with another member
    of the William Lilley staff team or professional from another agency" """
    lilley = rules(pairs="required", outside_companion=True)
    lone = assessed(a_visit())
    with pytest.raises(
        DomainError,
        match="a companion: a second member of staff or a professional from another agency",
    ):
        authorise(lone, DSL, lilley)
    with pytest.raises(DomainError, match="a single member of staff cannot go alone"):
        lone.decide_companions(
            principal=DSL, decision="single", reason="short drop-off", rules=lilley, timestamp=NINE
        )
    pair = assessed(a_visit(staff=("s-jones", "s-khan")))
    authorise(pair, DSL, lilley)


def test_an_outside_professional_can_be_the_companion_where_the_policy_says_so() -> None:
    """William Lilley: "…or professional from another agency": named, with their agency;
    they are not a Lonewatch user."""
    lilley = rules(pairs="required", outside_companion=True)
    visit = assessed(a_visit())
    visit.name_companion(
        by="dsl:dsl1",
        name="Pat Rowe",
        organisation="Children's Services",
        phone=None,
        rules=lilley,
        timestamp=NINE,
    )
    authorise(visit, DSL, lilley)
    applied = visit.collect_events()[-2]
    assert type(applied).__qualname__ == "Visit.PolicyApplied"
    assert "accompanied by Pat Rowe (Children's Services)" in applied.checks[0]["done"]  # type: ignore[attr-defined]
    assert visit.lone  # still takes an SOS device: Lonewatch cannot reach the companion


def test_a_school_that_does_not_say_so_counts_only_staff_as_the_companion() -> None:
    with pytest.raises(DomainError, match="does not count a professional from another agency"):
        a_visit().name_companion(
            by="dsl:dsl1",
            name="Pat Rowe",
            organisation="Children's Services",
            phone=None,
            rules=rules(pairs="required"),
            timestamp=NINE,
        )


def test_sen_trust_records_whether_one_member_of_staff_or_two_and_why() -> None:
    """SEN Trust: "Discuss with the Headteacher, DSL (where appropriate) and/or relevant
    Senior Leader whether the visit should be made by a single member of staff or if an
    additional person is required to protect professional integrity and ensure staff
    safety." The decision is the leads', with its reason, before authorising."""
    sen = rules(authorised_by=["headteacher", "slt", "dsl"], pairs="decided")
    visit = assessed(a_visit())
    with pytest.raises(
        DomainError,
        match=r"the decision, with the headteacher, .* whether the visit is made by a single member of staff",
    ):
        authorise(visit, HEAD, sen)
    with pytest.raises(DomainError, match="this school's policy has this decided with"):
        visit.decide_companions(
            principal=STAFF,
            decision="single",
            reason="I know the family",
            rules=sen,
            timestamp=NINE,
        )
    visit.decide_companions(
        principal=SLT,
        decision="single",
        reason="known family, drop-off of work",
        rules=sen,
        timestamp=NINE,
    )
    authorise(visit, HEAD, sen)
    decided = next(
        e for e in visit.collect_events() if type(e).__qualname__ == "Visit.CompanionsDecided"
    )
    assert (decided.by, decided.role, decided.reason) == (
        "slt:slt1",
        "slt",
        "known family, drop-off of work",
    )  # type: ignore[attr-defined]


def test_when_an_additional_person_is_decided_the_visit_waits_for_one() -> None:
    """Roselyn House: "Discuss with the Safeguarding Lead whether it is deemed appropriate
    for the visit to be made alone or whether an additional person is required… If
    required, arrange for an appropriate person to accompany you." """
    roselyn = rules(pairs="decided", pair_decided_by=["dsl"])
    visit = assessed(a_visit())
    visit.decide_companions(
        principal=DSL,
        decision="pair",
        reason="father hostile at last visit",
        rules=roselyn,
        timestamp=NINE,
    )
    with pytest.raises(DomainError, match="the additional person it was decided goes"):
        authorise(visit, DSL, roselyn)


def test_cottenham_pairs_where_possible_a_lone_visit_says_why() -> None:
    """Cottenham: "Where possible, home visits should be conducted in pairs. Where you are
    lone working, ensure that you collect the SOS device from reception" """
    cottenham = rules(authorised_by=["dsl"], pairs="where_possible")
    visit = assessed(a_visit())
    with pytest.raises(DomainError, match="or the reason this visit is made alone"):
        authorise(visit, DSL, cottenham)
    visit.decide_companions(
        principal=STAFF,
        decision="single",
        reason="no second member of staff free today",
        rules=cottenham,
        timestamp=NINE,
    )
    authorise(visit, DSL, cottenham)


def test_the_second_member_of_staff_is_told_to_stay_in_sight_of_the_property() -> None:
    """Cottenham: "the second member of staff should remain in sight of the property should
    there be the need for increased support." Shown to pair visits as an instruction."""
    cottenham = rules(second_in_sight=True)
    pair = summary(cottenham, {}, staff=["s-jones", "s-khan"], trained=())
    lone = summary(cottenham, {}, staff=["s-jones"], trained=())
    assert pair["instructions"] == [
        "The second member of staff should remain in sight of the property should there be "
        "the need for increased support."
    ]
    assert lone["instructions"] == []


# -- before the visit ------------------------------------------------------------------


def test_parents_are_informed_or_the_exception_is_recorded_with_its_reason() -> None:
    """Cottenham: "wherever possible parents/carers should be informed of the home visit
    prior to arrival, there will be exceptions to this for example a visit to confirm that
    an absent child is at home when parents/carers are not responding" """
    cottenham = rules(authorised_by=["dsl"], parents_informed="where_possible")
    visit = assessed(a_visit())
    with pytest.raises(
        DomainError, match="parents/carers informed of the home visit before arrival, or the reason"
    ):
        authorise(visit, DSL, cottenham)
    with pytest.raises(DomainError, match="say why parents/carers are not informed"):
        visit.record_parents(
            by="staff:s-jones", informed=False, note=" ", rules=cottenham, timestamp=NINE
        )
    visit.record_parents(
        by="staff:s-jones",
        informed=False,
        note="not answering calls for a week; welfare check",
        rules=cottenham,
        timestamp=NINE,
    )
    authorise(visit, DSL, cottenham)


def test_where_parents_must_be_told_an_exception_is_refused() -> None:
    strict = rules(parents_informed="required")
    with pytest.raises(DomainError, match="parents/carers informed before every home visit"):
        a_visit().record_parents(
            by="dsl:dsl1", informed=False, note="no answer", rules=strict, timestamp=NINE
        )


def test_at_least_one_visitor_is_trained_in_safeguarding() -> None:
    """King's Academy Gomer: "At least one member of the visiting team should be trained in
    safeguarding." """
    gomer = rules(safeguarding_trained=True)
    visit = assessed(a_visit(staff=("s-jones", "s-khan")))
    with pytest.raises(
        DomainError, match="at least one member of staff on the visit trained in safeguarding"
    ):
        authorise(visit, DSL, gomer, trained=())
    authorise(visit, DSL, gomer, trained=("s-khan",))


def test_each_visitor_signs_that_they_have_read_the_risk_assessment() -> None:
    """SEN Trust and Roselyn House: "I have read and understand the… Risk Assessment…
    Signed". Only the visitor confirms for themself; a new assessment is signed again."""
    sen = rules(risk_assessment_signed=True)
    visit = a_visit()
    with pytest.raises(DomainError, match="no risk assessment to read yet"):
        visit.confirm(principal=STAFF, what="risk_assessment", timestamp=NINE)
    assessed(visit)
    with pytest.raises(DomainError, match="only a visitor confirms this"):
        visit.confirm(principal=DSL, what="risk_assessment", timestamp=NINE)
    visit.confirm(principal=STAFF, what="risk_assessment", timestamp=NINE)
    assessed(visit)  # reassessed: what was signed is no longer what is assessed
    with pytest.raises(DomainError, match=r"each visitor confirms: .I have read and understand"):
        authorise(visit, DSL, sen)
    visit.confirm(principal=STAFF, what="risk_assessment", timestamp=NINE)
    authorise(visit, DSL, sen)
    signed = [e for e in visit.collect_events() if type(e).__qualname__ == "Visit.VisitorConfirmed"]
    assert signed[-1].statement == STATEMENTS[Confirmation.RISK_ASSESSMENT]  # type: ignore[attr-defined]


def test_the_visitor_confirms_a_charged_mobile_phone_before_signing_out() -> None:
    """King's Academy Gomer: "Staff must inform the school office of their estimated arrival
    and departure times and carry a charged mobile phone." """
    gomer = rules(charged_phone=True)
    visit = assessed(a_visit())
    authorise(visit, DSL, gomer)  # a check of signing out, not of authorising
    with pytest.raises(
        DomainError,
        match=r"before signing out: each visitor confirms: .I am carrying a charged mobile phone",
    ):
        visit.depart(
            by="operator:reception1", device=FIT_DEVICE, policy=POLICY, timestamp=NINE, rules=gomer
        )
    visit.confirm(principal=STAFF, what="charged_phone", timestamp=NINE)
    visit.depart(
        by="operator:reception1", device=FIT_DEVICE, policy=POLICY, timestamp=NINE, rules=gomer
    )
    assert event_names(visit)[-2:] == ["Visit.PolicyApplied", "Visit.Departed"]


def test_every_decision_is_recorded_with_who_when_and_why() -> None:
    """What the DSL's replay shows: each decision's actor, role, time and reason; and the
    policy as it stood when the visit was authorised."""
    sen = rules(
        authorised_by=["headteacher", "slt", "dsl"],
        pairs="decided",
        parents_informed="where_possible",
    )
    visit = assessed(a_visit())
    later = NINE + timedelta(minutes=7)
    visit.decide_companions(
        principal=DSL, decision="single", reason="drop-off of work", rules=sen, timestamp=later
    )
    visit.record_parents(
        by="dsl:dsl1", informed=True, note="rang mum, expecting us at 9", rules=sen, timestamp=later
    )
    authorise(visit, SLT, sen)
    events = {type(e).__qualname__: e for e in visit.collect_events()}
    decided, told = events["Visit.CompanionsDecided"], events["Visit.ParentsInformed"]
    assert (decided.by, decided.timestamp, decided.reason) == (
        "dsl:dsl1",
        later,
        "drop-off of work",
    )  # type: ignore[attr-defined]
    assert (told.by, told.note) == ("dsl:dsl1", "rang mum, expecting us at 9")  # type: ignore[attr-defined]
    applied = events["Visit.PolicyApplied"]
    assert applied.policy["authorised_by"] == ["headteacher", "slt", "dsl"]  # type: ignore[attr-defined]
    assert [c["rule"] for c in applied.checks] == ["pairs", "parents_informed"]  # type: ignore[attr-defined]
    assert all(c["met"] and c["done"] for c in applied.checks)  # type: ignore[attr-defined]


# -- the policy as data ----------------------------------------------------------------


def test_the_directory_names_each_problem_of_a_visit_policy_where_it_is() -> None:
    _, problems = parse_visit_policy(
        {
            "authorised_by": ["reception"],
            "pairs": "mostly",
            "charged_phone": "yes",
            "escort": True,
            "words": {"pairs": ""},
        },
        "schools[1].policy.visits",
    )
    assert problems == [
        "schools[1].policy.visits.authorised_by: must be a list of one or more of: headteacher, dsl, slt",
        "schools[1].policy.visits.pairs: must be one of: optional, where_possible, decided, required",
        "schools[1].policy.visits.charged_phone: must be true or false, got 'yes'",
        "schools[1].policy.visits.escort: unknown visit rule; known ones are: authorised_by, pairs, "
        "pair_decided_by, outside_companion, second_in_sight, parents_informed, safeguarding_trained, "
        "risk_assessment_signed, charged_phone, bedroom, upstairs, words",
        "schools[1].policy.visits.words.pairs: must be your policy's words (text, 1-2000 characters)",
    ]


def test_the_policy_sheet_puts_the_policys_words_beside_what_is_enforced() -> None:
    words = "ALL HOME VISITS CONDUCTED BY STAFF MUST BE AUTHORISED BY THE SAFEGUARDING OFFICER."
    found = {
        r["rule"]: r
        for r in sheet(rules(authorised_by=["dsl"], words={"authorised_by": words}))["rules"]
    }
    assert found["authorised_by"]["words"] == words
    assert found["authorised_by"]["enforced"].startswith(
        "Only the designated safeguarding lead (DSL) of the school can authorise a visit."
    )
    assert found["charged_phone"] == {
        "rule": "charged_phone",
        "title": "A charged mobile phone",
        "when": "before",
        "on": False,
        "enforced": "Not asked by this school's configuration.",
        "words": None,
    }


def test_no_check_is_made_of_a_school_without_a_visit_policy() -> None:
    assert checks(VisitPolicy(), {}, staff=["s-jones"], trained=()) == []


def test_a_school_says_in_its_directory_entry_what_it_allows_at_the_property() -> None:
    """SEN Trust: a bedroom only with the controls of its risk assessment ("Signed agreement
    from Parent/Carer... Accompanied by additional staff member"); Roselyn House: "Do not go
    upstairs in a property." The directory import keeps both, and the rules at the property
    read them from what it kept."""
    from service.domain.visits.decisions import DuringPolicy

    checked, problems = parse_visit_policy(
        {"bedroom": "with_controls", "upstairs": "never"}, "schools[0].policy.visits"
    )
    assert problems == []
    during = DuringPolicy.from_school({"visits": checked})
    assert (during.bedroom, during.upstairs) == ("with_controls", "never")

    _, problems = parse_visit_policy({"bedroom": "sometimes"}, "schools[0].policy.visits")
    assert problems == ["schools[0].policy.visits.bedroom: must be one of: never, with_controls"]


def test_the_policy_sheet_says_what_the_school_allows_at_the_property() -> None:
    """SEN Trust: a bedroom only with every control of its risk assessment; Roselyn House:
    "Do not go upstairs in a property." The sheet says so, beside the school's words."""
    roselyn_words = "Do not go upstairs in a property."
    checked, problems = parse_visit_policy(
        {"bedroom": "with_controls", "upstairs": "never", "words": {"upstairs": roselyn_words}},
        "schools[0].policy.visits",
    )
    assert problems == []
    found = sheet(
        VisitPolicy.from_school({"visits": checked}), DuringPolicy.from_school({"visits": checked})
    )
    at = {r["rule"]: r for r in found["rules"] if r["when"] == "at_the_property"}
    assert list(at) == [
        "bedroom",
        "upstairs",
        "invited_by_child",
        "no_responsible_adult",
        "smoking",
        "animals",
    ]
    assert at["bedroom"]["enforced"].startswith(
        "A visitor may enter a child's bedroom only with every control of the risk assessment"
    )
    assert "Door of bedroom kept open during visit" in at["bedroom"]["enforced"]
    assert at["upstairs"]["enforced"].startswith("A visitor may not go upstairs in a property")
    assert at["upstairs"]["words"] == roselyn_words
    assert at["bedroom"]["words"] is None
    assert "the visit then ends early" in at["smoking"]["enforced"]
    assert all(r["on"] for r in at.values())
    assert (found["configuration"]["bedroom"], found["configuration"]["upstairs"]) == (
        "with_controls",
        "never",
    )

    default = {r["rule"]: r for r in sheet(VisitPolicy())["rules"]}
    assert default["bedroom"]["enforced"].startswith("A visitor may not enter a child's bedroom")
    assert default["upstairs"]["enforced"].startswith(
        "A visitor may go upstairs only accompanied by a responsible adult"
    )
    assert default["authorised_by"]["when"] == "before"


def test_the_before_visit_checks_tell_times_by_the_schools_clock() -> None:
    """As the rest of the visit's record does: "10:05 BST on 2026-06-10", not UTC."""
    told = {
        "informed": True,
        "note": "rang mum",
        "by": "dsl:dsl1",
        "at": "2026-06-10T09:05:00+00:00",
    }
    signed = {"s-jones": {"by": "staff:s-jones", "at": "2026-06-10T09:07:00+00:00"}}
    found = checks(
        rules(parents_informed="required", charged_phone=True),
        {"parents": told, "confirmed": {"charged_phone": signed}},
        staff=["s-jones"],
        trained=(),
        zone=ZoneInfo("Europe/London"),
    )
    assert [c.done for c in found] == [
        "parents/carers informed: rang mum (recorded by dsl:dsl1 at 10:05 BST on 2026-06-10)",
        "s-jones confirmed at 10:07 BST on 2026-06-10",
    ]


def test_the_policy_applied_when_authorising_tells_its_times_in_the_schools_zone() -> None:
    """Authorising records what met each check, its times in the school's zone (London in
    November: GMT)."""
    cottenham = rules(parents_informed="required")
    visit = assessed(a_visit())
    visit.record_parents(
        by="dsl:dsl1", informed=True, note="rang mum", rules=cottenham, timestamp=NINE
    )
    authorise(visit, HEAD, cottenham)
    applied = {type(e).__qualname__: e for e in visit.collect_events()}["Visit.PolicyApplied"]
    assert applied.checks[0]["done"].endswith("(recorded by dsl:dsl1 at 09:00 GMT on 2026-11-23)")  # type: ignore[attr-defined]
