"""One regex for many alternatives: a trie of atoms with shared prefixes factored out.

Both taggers match hundreds of aliases or keywords at every position of every article; an
alternation built as a trie lets the regex engine dispatch on the first character instead of
trying each alternative in turn, and greedy optional tails make the longest alternative win.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def trie_pattern(sequences: Iterable[Sequence[str]]) -> str:
    """Alternation of atom sequences (each atom already a regex fragment)."""
    root: dict[str, Any] = {}
    for seq in sequences:
        node = root
        for atom in seq:
            node = node.setdefault(atom, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        alts = [atom + emit(child) for atom, child in sorted(node.items()) if atom]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(root)
