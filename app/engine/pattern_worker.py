"""A regular expression's DFA over a model's alphabet, built by interegular in a process of its own.

Run as a script (app.engine.patterns starts it): reads {"pattern", "alphabet", "max_states", "cpu_seconds"} as
JSON on stdin, writes {"transitions", "finals", "outside"} or {"error"} as JSON on stdout. Determinizing a
regular expression can take time and memory exponential in its length ("(a|b)*a(a|b){16}" has 2**17 states),
and nothing can stop a library call inside the server's process: here the kernel stops the process after
cpu_seconds of CPU time (SIGXCPU) and caps its address space, so a pattern costs the server at most that much
of one core. Imports only the standard library and interegular, so the process starts in tens of milliseconds.
"""

from __future__ import annotations

import json
import resource
import sys
from collections.abc import Sequence
from typing import Any

MEMORY_BYTES = 512 * 2**20  # address space of the worker process; a larger automaton is "too complex"


def pattern_dfa(pattern: str, alphabet: Sequence[str], max_states: int) -> dict[str, Any]:
    """The DFA of `pattern` (full match) restricted to `alphabet`: its states reachable from the initial one
    (numbered from 0, the initial state), each state's next state per character (-1: no match possible), which
    states accept, and the characters the pattern names that are outside the alphabet (they never match)."""
    import interegular  # here: a module-level import would also load it in the server, which never needs it

    try:
        fsm = interegular.parse_pattern(pattern).to_fsm()
    except interegular.Unsupported as exc:
        return {"error": f"uses a feature that is not supported: {exc}"}
    except interegular.InvalidSyntax as exc:
        return {"error": f"is not a valid regular expression{': ' + str(exc) if str(exc) else ''}"}
    except MemoryError:
        return {"error": f"is too complex: its automaton needs more than {MEMORY_BYTES // 2**20} MiB"}
    keys = [fsm.alphabet[c] for c in alphabet]  # each character's transition class (None: never matches)
    number = {fsm.initial: 0}
    order = [fsm.initial]
    transitions: list[list[int]] = []
    for state in order:  # breadth first; `order` grows as states are found
        row = []
        moves = fsm.map.get(state, {})
        for key in keys:
            target = moves.get(key) if key is not None else None
            if target is None:
                row.append(-1)
                continue
            if target not in number:
                if len(order) >= max_states:
                    return {"error": f"is too complex: its automaton has more than {max_states} states"}
                number[target] = len(order)
                order.append(target)
            row.append(number[target])
        transitions.append(row)
    named = {c for c in fsm.alphabet if isinstance(c, str)} - {"\n"}  # "." names the newline it excludes
    outside = sorted(named - set(alphabet))
    return {"transitions": transitions, "finals": [s in fsm.finals for s in order], "outside": outside}


def main() -> None:
    request = json.load(sys.stdin)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    cpu = int(request["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU at the first, SIGKILL at the second
    try:
        result = pattern_dfa(request["pattern"], request["alphabet"], request["max_states"])
    except MemoryError:
        result = {"error": f"is too complex: its automaton needs more than {MEMORY_BYTES // 2**20} MiB"}
    except Exception as exc:  # anything else the library finds wrong is the pattern's problem, said in one line
        result = {"error": f"cannot be compiled: {str(exc)[:200] or type(exc).__name__}"}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
