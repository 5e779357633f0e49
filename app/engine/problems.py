"""What is wrong with a request: FieldProblems, each naming the field of the engine's request it is about.

`loc` starts at the field's name and goes on with an index (a text in a batch) and a character position where
there is one. The HTTP edge puts "query" or "body" in front; the CLI names the option.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class FieldProblem:
    loc: Loc
    msg: str
    type: str = "value_error"


class InvalidInput(ValueError):
    """Bad user input (HTTP 422, CLI exit 2). Every message is safe to show and says what to change."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(describe(p) for p in self.problems))


def describe(problem: FieldProblem) -> str:
    """One line: 'texts[2][5]: msg' (a text's index, then a character position)."""
    if not problem.loc:
        return problem.msg
    where = str(problem.loc[0])
    for part in problem.loc[1:]:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    return f"{where}: {problem.msg}"
