"""Cancels work whose HTTP client has gone away (non-streaming; Starlette already does it for streams)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import anyio
from fastapi import Request

T = TypeVar("T")


class ClientDisconnected(Exception):
    """The client closed the connection before the answer was ready."""


async def cancel_on_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Run `work`, cancelling it if an `http.disconnect` arrives first."""
    result: list[T] = []
    failure: list[BaseException] = []
    async with anyio.create_task_group() as group:

        async def run() -> None:
            # Errors are carried out by hand so callers see them as raised, not wrapped in an ExceptionGroup.
            try:
                result.append(await work)
            except Exception as exc:
                failure.append(exc)
            group.cancel_scope.cancel()

        async def watch() -> None:
            # The body has been read by now, so the next message can only be the disconnect.
            while (await request.receive())["type"] != "http.disconnect":
                pass
            group.cancel_scope.cancel()

        group.start_soon(run)
        group.start_soon(watch)
    if failure:
        raise failure[0]
    if not result:
        raise ClientDisconnected
    return result[0]
