"""Joining phrases: a space between, a capital only where a sentence starts, common words alone lower-cased."""

from stt_dictation.server.joiner import ends_sentence, join, tail


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
