"""newstag.core.files: the marked blocks that generated figures live in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from newstag.core.files import marked_block, replace_marked_block

# text around and inside a block: anything but the markers themselves
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80).filter(lambda t: "<!--" not in t)


@given(head=_TEXT, old=_TEXT, tail=_TEXT, new=_TEXT)
def test_replacing_a_block_changes_only_its_body(tmp_path_factory, head, old, tail, new):
    path = tmp_path_factory.mktemp("md") / "README.md"
    path.write_bytes(f"{head}<!-- figures:start -->\n{old}\n<!-- figures:end -->{tail}".encode())
    assert replace_marked_block(path, "figures", new)
    text = path.read_bytes().decode()
    assert text.startswith(head + "<!-- figures:start -->\n") and text.endswith("<!-- figures:end -->" + tail)
    assert marked_block(text, "figures") == new.strip("\n")


def test_a_file_without_the_markers_is_left_alone(tmp_path):
    path = tmp_path / "RESULTS.md"
    for text in ("no markers", "<!-- figures:start --> but no end", "<!-- figures:end --> before <!-- figures:start -->"):
        path.write_text(text, encoding="utf-8")
        assert not replace_marked_block(path, "figures", "x")
        assert path.read_text(encoding="utf-8") == text
        assert marked_block(text, "figures") is None


def test_blocks_are_found_by_name(tmp_path):
    text = "<!-- a:start -->\none\n<!-- a:end -->\n<!-- b:start -->\ntwo\n<!-- b:end -->\n"
    assert (marked_block(text, "a"), marked_block(text, "b"), marked_block(text, "c")) == ("one", "two", None)
