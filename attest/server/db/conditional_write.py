"""The writes a verdict stands on, and how they reach the database: in order, or as one statement.

A verdict writes only conditional single-row UPDATEs (a challenge consumed if still unused and unexpired,
a counter advanced if still smaller): each must change exactly one row, or the verdict fails with the
reason its refusal reads back. Run in order inside a transaction (any database), the first refused write
stops the request and the transaction rolls back. On PostgreSQL the writes and the audit row of the
verdict can also be sent as one statement: each write is a data-modifying WITH query that runs only if
the one before it changed its row, and the audit row is inserted only if the last one did. One statement
is atomic on its own, so no transaction has to be opened or committed around it: what costs the time of
a verdict on PostgreSQL is the client's work around each statement sent, not the database's.

One statement has the same outcome as the writes in order, except that a write before the refused one
is kept instead of rolled back. For a verdict that is the challenge, which the failed request uses up all
the same (:mod:`attest.server.verdict_transaction`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NoReturn, cast

from sqlalchemy import Connection, Insert, Select, Table, Update, bindparam, exists, func, insert, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter

from attest.server.db.engine import affected_rows

Database = Connection | Session


@dataclass(frozen=True, slots=True)
class ConditionalWrite:
    """An UPDATE that must change exactly one row. ``refused(database)`` runs when it changed none: it
    reads why and raises that error (``challenge.used``, ``assertion.counter_not_increasing`` ...)."""

    statement: Update
    parameters: Mapping[str, Any]
    refused: Callable[[Database], NoReturn]


def write_in_order(database: Database, writes: Sequence[ConditionalWrite]) -> None:
    """Run ``writes`` one after the other in the caller's transaction; the first refused one raises."""
    for write in writes:
        if affected_rows(database.execute(write.statement, write.parameters)) != 1:
            write.refused(database)


def write_as_one_statement(
    connection: Connection, writes: Sequence[ConditionalWrite], then_insert: Table, row: Mapping[str, Any]
) -> None:
    """Run ``writes`` and, if each changed its row, insert ``row`` into ``then_insert``, in one statement
    (PostgreSQL); the first refused write raises, after the statement."""
    statement = _one_statement(tuple(write.statement for write in writes), then_insert, tuple(row))
    parameters = {f"row_{name}": value for name, value in row.items()}
    for index, write in enumerate(writes):
        parameters.update((f"w{index}_{name}", value) for name, value in write.parameters.items())
    changed = connection.execute(statement, parameters).one()
    for write, count in zip(writes, changed, strict=False):
        if count != 1:
            write.refused(connection)
    if changed[-1] != 1:  # every write changed its row, so the INSERT ran: it cannot have inserted none
        raise AssertionError("the statement wrote every row but the last")


@lru_cache(maxsize=64)
def _one_statement(writes: tuple[Update, ...], table: Table, columns: tuple[str, ...]) -> Select[*tuple[Any, ...]]:
    """``WITH w0 AS (UPDATE ... RETURNING 1), w1 AS (UPDATE ... WHERE ... AND EXISTS (SELECT FROM w0)
    RETURNING 1), ..., last AS (INSERT INTO table SELECT ... WHERE EXISTS (SELECT FROM w<n>) RETURNING 1)
    SELECT (SELECT count(*) FROM w0), ..., (SELECT count(*) FROM last)``; built once per shape (the
    writes are statements built at import)."""
    steps: list[Any] = []
    for index, write in enumerate(writes):
        gated = _with_prefixed_parameters(write, f"w{index}_")
        if steps:
            gated = gated.where(exists().select_from(steps[-1]))
        steps.append(gated.returning(literal(1).label("changed")).cte(f"write_{index}"))
    values: Select[*tuple[Any, ...]] = select(
        *[bindparam(f"row_{name}", type_=table.c[name].type).label(name) for name in columns]
    )
    if steps:
        values = values.where(exists().select_from(steps[-1]))
    row: Insert = insert(table).from_select(list(columns), values)
    steps.append(row.returning(literal(1).label("changed")).cte("inserted"))
    return select(*(select(func.count()).select_from(step).scalar_subquery() for step in steps))


def _with_prefixed_parameters(statement: Update, prefix: str) -> Update:
    """A copy of ``statement`` whose bind parameters are named ``prefix + name``: the writes of one
    statement keep their parameters apart (two writes may be the same statement with other values)."""

    def renamed(element: visitors.ExternallyTraversible, **_: Any) -> visitors.ExternallyTraversible | None:
        if not isinstance(element, BindParameter):
            return None
        if element.unique or element.value is not None or element.callable is not None:
            raise ValueError(f"a conditional write takes named parameters only, not {element!r}")
        return bindparam(prefix + element.key, type_=element.type)

    no_options: dict[str, Any] = {}
    return cast(Update, visitors.replacement_traverse(statement, no_options, renamed))
