"""What is wrong with a request, in the one shape every 422 has: a list of {loc, msg, type}.

`loc` starts at the parameter's name and goes on with an index (a text in a batch) and a character position
where there is one. The HTTP layer puts "query" or "body" in front; the CLI prints one line per problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    loc: Loc
    msg: str
    type: str = "value_error"

    def as_dict(self, root: str | None = None) -> dict[str, Any]:
        return {"loc": [root, *self.loc] if root else list(self.loc), "msg": self.msg, "type": self.type}


class InvalidInput(ValueError):
    """Bad user input (HTTP 422, CLI exit 2). Every message is safe to show and says what to change."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(describe(p) for p in self.problems))


def invalid(loc: Loc, msg: str, kind: str = "value_error") -> InvalidInput:
    return InvalidInput([Problem(loc, msg, kind)])


def describe(problem: Problem) -> str:
    """One line: 'texts[2] position 5: msg'."""
    if not problem.loc:
        return problem.msg
    where = str(problem.loc[0])
    for part in problem.loc[1:]:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    return f"{where}: {problem.msg}"
