"""Negations the source does not make: "Offline export is not code-complete" where the transcript says "Offline
export is code-complete" states the opposite of its source in the source's own words, so every word-matching
scorer (facets, ROUGE-L) and a fact list that did not foresee the denial all miss it.

Rule (one statement at a time, `statements.statements`): the first content word within NEGATED_WORDS words after
a negation (`statements.negation_ends`: not, never, without, rather than, ...) is what it negates ("never leaves
the device" negates leaving, not the device). The statement
negates its source when one of those words stands in a source statement that also shares another content word with
it, and the source never speaks negatively about it: no source statement that holds the negated word, or that
shares two content words with the answer's statement, holds a negation or a failure word (failed, error, unable,
...). "Dark mode will not be in the beta" is therefore not flagged for a transcript that says "No, dark mode moves
to the April release".

Content words are words of three or more letters outside a stopword list, compared by a crude stem (the word
without a trailing -ing, -ed, -es or -s: "replacing" and "replace" meet). Sources are the prompt (a transcript, a
log) and its reference answer.
"""
from __future__ import annotations

from ..core.config import Prompt
from . import statements as st

NEGATED_WORDS = 4
_FAILURE_WORDS = {"fail", "failed", "fails", "failure", "error", "errors", "unable", "refused", "denied", "lost"}
_STOPWORDS = frozenset(
    "the and but for are was were been being has have had its it's this that these those with from into onto then "
    "than there their they them will would shall should can could may might must does did doing done not yet still "
    "just also very much more less any all some each every our your you she her his him who what when where which "
    "while about over under after before again only even mean means meant need needs needed".split())


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) >= 5 else word


def _content(words: list[str]) -> set[str]:
    return {_stem(w) for w in words if len(w) >= 3 and any(ch.isalpha() for ch in w) and w not in _STOPWORDS
            and not st.negation_ends([w])}


def _source_units(source: str) -> list[tuple[set[str], bool]]:
    """Each source statement (`statements.statements`: a line or sentence, split at `;` and `, so`): its content
    stems and whether it speaks negatively (a negation or failure)."""
    units = []
    for statement in st.statements(source):
        words = st.tokens(statement)
        if words:
            negative = bool(st.negation_ends(words)) or any(w in _FAILURE_WORDS for w in words)
            units.append((_content(words), negative))
    return units


def negates_source(statement: str, units: list[tuple[set[str], bool]]) -> bool:
    """True when one lowercased statement denies what the source states (see the module docstring)."""
    words = st.tokens(statement)
    stems = _content(words)
    for i in st.negation_ends(words):
        following = [w for w in words[i + 1:i + 1 + NEGATED_WORDS] if _content([w])]
        for negated in _content(following[:1]):
            others = stems - {negated}
            spoken_of = [(u, neg) for u, neg in units if negated in u or len(u & stems) >= 2]
            if any(neg for _, neg in spoken_of):
                continue
            if any(negated in u and u & others for u, _ in spoken_of):
                return True
    return False


def invented_negations(answer: str, prompt: Prompt) -> list[str]:
    """The answer's statements that deny what the prompt or its reference states, e.g. ["offline export is not
    code-complete"]."""
    units = _source_units(f"{prompt.text}\n{prompt.reference or ''}")
    return [s for s in st.statements(answer) if negates_source(s, units)]
