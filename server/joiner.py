"""Phrases into running text: one space between them, a capital only where a sentence starts.

Whisper decodes each phrase as if it were a whole utterance, so every phrase comes
back capitalised. `join` gives a phrase the form it has after the text before it:
a space (none before punctuation), its capital after a terminal mark, and a
lower-case first word when the sentence goes on. Lower-casing is conservative: only
a common word in title case ("What", never "I", "Kubernetes" or "NASA").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TERMINAL = ".!?…"
"""Marks that end a sentence."""
_CLOSERS = "\"')]}”’»"
_NO_SPACE_BEFORE = ",.;:!?…)]}%”’»"

COMMON = frozenset(
    """a about above after again against all also although an and another any are as at be because been before
    being below between both but by can could did do does doing down during each either even every few for from
    further had has have having he her here hers herself him himself his how if in into is it its itself just
    least less like many may me might more most much must my myself neither never no nor not now of off often on
    once one only or other others our ours ourselves out over own perhaps please rather same she should since so
    some still such than that the their theirs them themselves then there these they this those though through
    thus to too under until up upon us very was we were what whatever when where whether which while who whom
    whose why will with within without would yet you your yours yourself yourselves ask asked let make made
    go going get got know think see say said take come give look want need use find tell call try keep put""".split()
)
"""Words that are never proper nouns: the only ones lower-cased to continue a sentence."""

_TITLE_WORD = re.compile(r"([A-Z][a-z']*)\b")


@dataclass(frozen=True)
class Amend:
    """Before typing a phrase, erase the last `chars` characters of phrase `seq` (typed just before it), which then reads `text`.

    The typist does it only when phrase `seq` was the last thing it typed and focus has not moved;
    otherwise it types `plain` (the phrase joined to the unchanged text) instead.
    """

    seq: int
    chars: int
    text: str
    plain: str


MOVABLE = ".!"
"""End marks Whisper puts on a phrase only because its audio ended; a question mark is kept."""


def as_context(text: str) -> str:
    """The text before a phrase as the model's prompt: a movable end mark becomes a comma, so the model may go on with the sentence."""
    t = text.rstrip()
    return t[:-1] + "," if t[-1:] in MOVABLE and t[:-1] and t[-2] not in TERMINAL else t


def goes_on(before: str, text: str) -> bool:
    """Whether `text`, decoded after `as_context(before)`, goes on with the sentence `before` ended with a movable mark:
    the model began it with a lower-case letter."""
    t = text.lstrip()
    return before.rstrip()[-1:] in MOVABLE and t[:1].isalpha() and t[:1].islower()


def ends_sentence(text: str) -> bool:
    """Whether `text` ends a sentence (a terminal mark, maybe inside quotes or brackets)."""
    t = text.rstrip().rstrip(_CLOSERS)
    return bool(t) and t[-1] in TERMINAL


def _lower_first(text: str) -> str:
    m = _TITLE_WORD.match(text)
    if m and len(m.group(1)) > 1 and m.group(1).lower() in COMMON:
        return text[0].lower() + text[1:]
    return text


def _upper_first(text: str) -> str:
    return text[0].upper() + text[1:] if text[:1].islower() else text


def join(before: str | None, text: str, *, space: bool = False) -> str:
    """`text` as typed right after `before`, the text typed before it in the same place (None: nothing known).

    With nothing before, the phrase is kept as decoded, with a leading space if `space`.
    """
    text = text.strip()
    if not text:
        return ""
    if before is None or not before.strip():
        return (" " if space else "") + text
    if text[0] in _NO_SPACE_BEFORE:
        return text
    text = _upper_first(text) if ends_sentence(before) else _lower_first(text)
    return " " + text


_MARKS = ".,;:!?…"
"""Punctuation a led decode may put differently between two phrases."""


def end_mark(text: str) -> str:
    """The punctuation `text` ends with ("" for none)."""
    t = text.rstrip()
    return t[len(t.rstrip(_MARKS)) :]


def without_mark(text: str) -> str:
    """`text` without the punctuation it ends with."""
    t = text.rstrip()
    return t[: len(t) - len(end_mark(t))]


def split_lead(text: str) -> tuple[str, str]:
    """A led decode's text as (the mark the model put between the two phrases, the new phrase's words)."""
    t = text.strip()
    words = t.lstrip(_MARKS).lstrip()
    return t[: len(t) - len(words)].strip(), words


def relead(before: str, seq: int, last: str, mark: str, words: str) -> tuple[Amend | None, str]:
    """`words` after a led decode put `mark` between them and `last`, phrase `seq`, typed just before (it
    ends `before`, the text so far): (the amend of `last` when its end mark changes, what to type).

    The model heard both phrases, so its mark stands: "you." becomes "you," when it goes on, and a mark is
    added the same way. No mark drops the one typed only when the sentence plainly goes on (a lower-case
    word); "day This part" is a new sentence whose full stop the model left out. The amend is made even with
    nothing to erase, so the history follows. Without words (a spoken "comma" said alone) the mark only takes the place of the one typed.
    """
    old = end_mark(last)
    if mark == old or (not mark and not words[:1].islower()):
        return None, join(before, words) if words else ""
    fixed, now = without_mark(last) + mark, without_mark(before) + mark  # `before` ends with `last`
    return Amend(seq, len(old), fixed, plain=join(before, words) if words else mark), mark + join(now, words)


def tail(text: str, chars: int) -> str:
    """The last `chars` characters of `text`, starting at a word."""
    if len(text) <= chars:
        return text.strip()
    cut = text[-chars:]
    space = cut.find(" ")
    return (cut[space + 1 :] if 0 <= space < len(cut) - 1 else cut).strip()
