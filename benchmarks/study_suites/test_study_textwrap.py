"""Suite for study_textwrap, a copy of the standard library's textwrap.

The reference is the guest's own `textwrap` module. Texts are drawn from a few
words, spaces, tabs and newlines, so that long words, sentence ends and
indentation all come up within a few examples.
"""

import textwrap as reference

from hypothesis import given
from hypothesis import strategies as st
from study_textwrap import TextWrapper, dedent, fill, indent, wrap

words = st.sampled_from(
    ["a", "to", "word", "longer", "hyphen-ated", "end.", "extraordinarily", "x" * 14]
)
separators = st.sampled_from([" ", "  ", "\t", "\n", " \n "])
texts = st.lists(st.tuples(words, separators), max_size=25).map(
    lambda pairs: "".join(word + separator for word, separator in pairs)
)
widths = st.integers(min_value=1, max_value=30)
indents = st.sampled_from(["", " ", "  ", "\t", "    "])


def test_known_wrap():
    text = "The quick brown fox jumps over the lazy dog."
    assert wrap(text, 15) == ["The quick brown", "fox jumps over", "the lazy dog."]


def test_known_dedent():
    assert dedent("    a\n      b\n    c\n") == "a\n  b\nc\n"
    assert dedent("  a\n\n  b") == "a\n\nb"


@given(texts, widths)
def test_wrap_matches_reference(text, width):
    assert wrap(text, width) == reference.wrap(text, width)


@given(texts, widths)
def test_lines_fit_the_width(text, width):
    for line in wrap(text, width):
        assert len(line) <= width


@given(texts, widths, st.booleans(), st.booleans())
def test_wrapper_options_match_reference(text, width, long_words, hyphens):
    options = {
        "width": width,
        "break_long_words": long_words,
        "break_on_hyphens": hyphens,
        "fix_sentence_endings": True,
        "initial_indent": "* ",
        "subsequent_indent": "  ",
    }
    assert TextWrapper(**options).wrap(text) == reference.TextWrapper(**options).wrap(
        text
    )


@given(texts, st.integers(min_value=8, max_value=30))
def test_fill_matches_reference(text, width):
    # fill raises ValueError when a line is narrower than its placeholder "[...]".
    assert fill(text, width, max_lines=3) == reference.fill(text, width, max_lines=3)


@given(st.lists(st.tuples(indents, texts), max_size=8), indents)
def test_dedent_matches_reference(lines, common):
    text = "\n".join(common + margin + line for margin, line in lines)
    assert dedent(text) == reference.dedent(text)


@given(texts, indents)
def test_indent_matches_reference(text, prefix):
    assert indent(text, prefix) == reference.indent(text, prefix)
    assert indent(text, "> ", str.strip) == reference.indent(text, "> ", str.strip)


def bench_wrap_paragraphs():
    text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 40
    for width in (20, 40, 60, 79):
        fill(text, width)
    dedent(indent(text.replace(". ", ".\n"), "    "))
