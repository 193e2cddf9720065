"""A separate process appending audit events, for the test that several processes share one chain."""

from __future__ import annotations


def write_events(url: str, count: int, tag: str) -> None:
    from services.core import audit
    from services.core.db.session import make_engine, make_session_factory, session_scope

    engine = make_engine(url)
    sessions = make_session_factory(engine)
    for n in range(count):
        with session_scope(sessions) as session:
            audit.record(session, action="test.write", decision="info", principal_id=tag, reason=f"{tag} {n}")
    engine.dispose()
