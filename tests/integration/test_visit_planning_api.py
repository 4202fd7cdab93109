"""GET /api/v1/staff, with a real HTTP client: the visitors the console's "Plan a visit" form
offers are the staff of the caller's own school, with the school's time zone, never
another school's."""

from __future__ import annotations

from service.container import Container
from tests.integration.test_visits_api import Client, api, as_  # noqa: F401


async def test_a_planner_is_offered_their_own_schools_staff_only(
    api: tuple[Client, Container],  # noqa: F811
) -> None:
    client, c = api
    response = await client.get("/api/v1/staff", headers=as_(c, "dsl1"))
    assert response.status == 200
    body = await response.json()
    assert body["schools"] == [
        {"id": "lancaster", "name": "Lancaster School", "timezone": "Europe/London"}
    ]
    assert [(s["id"], s["name"]) for s in body["staff"]] == [
        ("p-patel", "Priya Patel"),
        ("r-ross", "Rob Ross"),
        ("s-jones", "Sam Jones"),
    ]

    kingsdown = await (await client.get("/api/v1/staff", headers=as_(c, "kdsl"))).json()
    assert [s["id"] for s in kingsdown["staff"]] == ["k-smith"]
    assert [s["id"] for s in kingsdown["schools"]] == ["kingsdown"]
