"""Hand history: the caller's hands, and one hand with only the cards they may see."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from functions.api.deps import AuthedDep, ContainerDep, read_rows, read_session
from functions.api.schemas import (
    HandDetailOut,
    HandPage,
    OpeningOut,
    PotOut,
    errors,
)
from holdem.adapters.repositories.hands import SqlHandHistory
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.bootstrap import Container
from holdem.bounds import MAX_BIGINT
from holdem.services import archive, hand_history

router = APIRouter(prefix="/api/v1/hands", tags=["hand history"], responses=errors(401, 422, 429))


@router.get("", response_model=HandPage, responses=errors(400))
async def list_hands(
    claims: AuthedDep,
    container: ContainerDep,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """The caller's hands, newest first (cursor pages)."""
    return await read_hands(container, claims.user_id, cursor, limit)


async def read_hands(
    container: Container, user_id: int, cursor: str | None, limit: int
) -> dict[str, Any]:
    """The hand list route's answer (also served by `functions.api.fast`): a `HandPage` as
    plain values, as `wallet.read_statement`'s (a `HandSummary`'s fields are
    `HandSummaryOut`'s, in its order)."""
    async with read_rows(container) as db:
        page = await hand_history.list_hands(SqlHandHistory(db), user_id, cursor, limit)
    return {"items": [h._asdict() for h in page.items], "next_cursor": page.next_cursor}


@router.get("/{hand_id}", response_model=HandDetailOut, responses=errors(404))
async def get_hand(
    hand_id: Annotated[int, Path(ge=1, le=MAX_BIGINT)],
    claims: AuthedDep,
    container: ContainerDep,
) -> dict[str, Any]:
    """One of the caller's hands: events in order, own and shown cards, their openings."""
    return await read_hand(container, claims.user_id, hand_id)


async def read_hand(container: Container, user_id: int, hand_id: int) -> dict[str, Any]:
    """The hand route's answer (also served by `functions.api.fast`): a `HandDetailOut` as
    plain values, as `read_hands`'. The openings and pots are read from stored payloads, so
    they go through their models, which keep only the documented fields."""

    async def archived(archived_id: int) -> archive.HandRecord | None:
        async with read_session(container) as db:
            store = container.archive_store
            return await archive.load_hand(SqlTransaction(db), store, container.redis, archived_id)

    async with read_rows(container) as db:
        hand = await hand_history.get_hand(SqlHandHistory(db), user_id, hand_id, archived)
    return {
        "hand": hand.summary._asdict(),
        "button_seat": hand.button_seat,
        "deck_commitment": hand.deck_commitment,
        "openings": [OpeningOut(**o) for o in hand.openings],
        "pots": [PotOut(**pot) for pot in hand.pots],
        "players": [p._asdict() for p in hand.players],
        "events": [e._asdict() for e in hand.events],
    }
