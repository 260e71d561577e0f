"""Joining phrases: a space between, a capital only where a sentence starts, common words alone lower-cased."""

import asyncio

from stt_dictation.server.events import EventBus
from stt_dictation.server.joiner import Amend, as_context, end_mark, ends_sentence, goes_on, join, relead, split_lead, tail
from stt_dictation.server.ledger import Ledger
from stt_dictation.server.typist import Ready, Typist
from tests.support.fakes import Keyboard


def test_a_phrase_continuing_a_sentence_gets_a_space_and_loses_the_forced_capital():
    assert join("And so my fellow Americans", "Ask not what your country can do") == " ask not what your country can do"
    assert join("we went there and", "The rest followed.") == " the rest followed."


def test_after_a_terminal_mark_the_capital_stays_or_is_given():
    assert join("It works.", "The rest followed.") == " The rest followed."
    assert join("Really?", "yes, really.") == " Yes, really."
    assert join('He said "stop!"', "then he left.") == " Then he left."


def test_i_proper_nouns_and_acronyms_keep_their_capital():
    for text in ("I think so.", "Kubernetes runs it.", "NASA said so.", "Americans know.", "A"):
        assert join("and then", text) == " " + text


def test_no_space_before_punctuation_and_no_double_spaces():
    assert join("one two", ", three") == ", three"
    assert join("one two ", "  The four  ") == " the four"
    assert join("one", "   ") == ""


def test_the_first_phrase_of_a_recording_follows_the_space_rule():
    assert join(None, "Hello there.") == "Hello there."
    assert join(None, "Hello there.", space=True) == " Hello there."
    assert join("", "Hello there.", space=True) == " Hello there."


def test_sentence_end_and_context_tail():
    assert ends_sentence("Done.") and ends_sentence("Done?)") and not ends_sentence("done,") and not ends_sentence("")
    assert tail("one two three four", 100) == "one two three four"
    assert tail("one two three four", 9) == "four"  # starts at a word, never in one


def test_a_movable_end_mark_becomes_a_comma_in_the_context_and_goes_when_the_model_goes_on():
    assert as_context("my fellow Americans.") == "my fellow Americans," and as_context("Ask not!") == "Ask not,"
    assert as_context("Is it done?") == "Is it done?" and as_context("Wait...") == "Wait..."
    assert goes_on("my fellow Americans.", "ask not") and not goes_on("my fellow Americans.", "Ask not")
    assert not goes_on("Is it done?", "yes it is") and not goes_on("and so,", "ask not")


def _typist_run(tmp_path, deliveries, *, window=None, moved_to=None):
    async def main():
        kb = Keyboard()
        kb.window = window
        ledger = Ledger(tmp_path, EventBus())
        await ledger.open()
        typist = Typist(kb, ledger, focus_guard=window is not None)
        task = asyncio.create_task(typist.run())
        for r in deliveries:
            await ledger.history.add(r.seq, r.recording, 1.0, None)
            typist.expect(r.seq)
        for r in deliveries:
            if r.amend is not None and moved_to is not None:
                await typist.idle(5.0)
                kb.window = moved_to
            typist.deliver(r)
        await typist.idle(5.0)
        entries = {e.seq: e for e in await ledger.recent(10)}
        task.cancel()
        await ledger.close()
        return kb, entries

    return asyncio.run(asyncio.wait_for(main(), 20))


def test_the_typist_amends_the_phrase_before_only_when_it_was_the_last_thing_typed_here(tmp_path):
    fix = Amend(1, 1, "Done,", plain=" And more")
    kb, entries = _typist_run(tmp_path / "a", [Ready(1, 1, "Done."), Ready(2, 1, ", and more", amend=fix)])
    assert kb.screen() == "Done, and more" and entries[1].text == "Done,"
    # the phrase before it was not the last typed (a phrase with no text is fine; another number is not)
    kb, entries = _typist_run(tmp_path / "b", [Ready(1, 1, "Done."), Ready(2, 1, ", and more", amend=Amend(7, 1, "x", plain=" And more"))])
    assert kb.typed == ["Done.", " And more"] and entries[2].text == "And more"
    # focus moved before it: never erase blind (and the focus guard holds the phrase)
    kb, entries = _typist_run(tmp_path / "c", [Ready(1, 1, "Done.", "w1"), Ready(2, 1, ", and more", "w1", amend=fix)], window="w1", moved_to="w2")
    assert "<backspace>" not in kb.typed and entries[2].status == "held"


def test_end_mark_and_split_lead_read_the_punctuation_between_phrases():
    assert (end_mark("for you."), end_mark("Wait..."), end_mark("Americans")) == (".", "...", "")
    assert split_lead(", ask not.") == (",", "ask not.")
    assert split_lead(". Ask what") == (".", "Ask what")
    assert split_lead(" ask what") == ("", "ask what")


def test_relead_changes_the_end_mark_before_when_the_model_heard_it_go_on():
    before = "And so my fellow Americans."
    amend, typed = relead(before, 1, "And so my fellow Americans.", ",", "Ask not")
    assert typed == ", ask not" and (amend.seq, amend.chars, amend.text) == (1, 1, "And so my fellow Americans,")
    assert amend.plain == " Ask not"  # typed where the amend cannot be made: joined to the text as it stands
    amend, typed = relead("you.", 3, "you.", "", "ask what")
    assert typed == " ask what" and (amend.chars, amend.text) == (1, "you")
    amend, typed = relead("so", 4, "so", ",", "then")
    assert typed == ", then" and (amend.chars, amend.text) == (0, "so,")  # nothing to erase; the history follows
    assert relead("Done.", 5, "Done.", ".", "next one") == (None, " Next one")
    # no mark before a capital: a new sentence whose full stop the model left out, not one that goes on
    assert relead("every day.", 6, "every day.", "", "This part") == (None, " This part")
    # a spoken mark said alone takes the place of the mark typed, or adds nothing when it is the same
    amend, typed = relead("Hello.", 7, "Hello.", ",", "")
    assert typed == "," and (amend.chars, amend.text, amend.plain) == (1, "Hello,", ",")
    assert relead("Hello.", 7, "Hello.", ".", "") == (None, "")
