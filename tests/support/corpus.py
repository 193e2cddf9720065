"""A few small documents with one fact each, for tests that ask questions of an app through its HTTP API."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

from tests.fixtures.documents import make_markdown
from tests.support.api import upload, wait_settled
from tests.support.settings import ADMIN_KEY

# name -> (file name, title, heading, the fact); every one readable by the group "everyone"
FACTS = {
    "garage": (
        "garage.md",
        "Parking garage",
        "Opening hours",
        "The Steward parking garage opens at 06:30 on weekdays.",
    ),
    "wifi": ("wifi.md", "Guest Wi-Fi", "Guests", "The guest Wi-Fi password is tulip42."),
    "helpdesk": ("helpdesk.md", "IT helpdesk", "Contact", "The IT helpdesk answers on extension 4357."),
}


def seed(api: TestClient) -> dict[str, str]:
    """Uploads FACTS as the admin and waits until each is ready; returns name -> document id."""
    ids = {}
    for name, (filename, title, heading, fact) in FACTS.items():
        response = upload(api, ADMIN_KEY, filename, make_markdown(title, [(heading, fact)]))
        assert response.status_code == 202, response.text
        ids[name] = response.json()["id"]
    for document_id in ids.values():
        assert wait_settled(api, ADMIN_KEY, document_id)["status"] == "ready"
    return ids


@dataclass(frozen=True)
class Seeded:
    """An app with FACTS in it."""

    api: TestClient
    ids: dict[str, str]  # fact name -> document id
