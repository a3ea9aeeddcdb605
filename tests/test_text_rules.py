"""Text that would deceive a reader: invisible-only names and comments, bidi overrides, and the
same words in two Unicode normal forms."""

import unicodedata

import pytest

from tests.test_create import stored_rows

INVISIBLE_ONLY = {
    "zero-width space": "\u200b\u200b",
    "hangul filler": "\u3164",
    "braille blank": "\u2800\u2800",
    "byte order mark": "\ufeff",
    "soft hyphen": "\u00ad",
    "mixed invisibles": " \u200b\u3164\u2800\ufeff\u00ad\u200d ",
    "variation selector": "\ufe0f",
}


@pytest.mark.parametrize("field", ["name", "comment", "thread"])
@pytest.mark.parametrize("text", INVISIBLE_ONLY.values(), ids=list(INVISIBLE_ONLY))
def test_text_with_nothing_visible_is_refused(client, clean_database, field, text):
    body = {"name": "Ann", "comment": "Hello", field: text}
    response = client.post("/comments", json=body)
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_fields"
    assert field in response.get_json()["fields"]
    assert stored_rows(clean_database) == []


@pytest.mark.parametrize("control", ["\u202e", "\u202a", "\u202b", "\u202c", "\u202d", "\u2066", "\u2067", "\u2069"])
@pytest.mark.parametrize("field", ["name", "comment"])
def test_bidi_controls_are_refused(client, clean_database, field, control):
    body = {"name": "Ann", "comment": "Hello", field: f"admin{control}gnp.exe"}
    response = client.post("/comments", json=body)
    assert response.status_code == 400
    assert response.get_json()["fields"][field] == "must not contain bidirectional control characters"


HEBREW_WITH_MARK = "\u05e9\u05dc\u05d5\u05dd \u200f\u05e2\u05d5\u05dc\u05dd"


@pytest.mark.parametrize(
    "text",
    [HEBREW_WITH_MARK, "👨\u200d👩\u200d👧 family", "naïve soft\u00adhyphen", "Hello\u200bworld"],
    ids=["right-to-left mark", "emoji joiners", "soft hyphen within words", "zero-width space within text"],
)
def test_invisible_characters_within_visible_text_are_kept(client, text):
    response = client.post("/comments", json={"name": "Ann", "comment": text})
    assert response.status_code == 201
    assert response.get_json()["comment"] == unicodedata.normalize("NFC", text)


def test_text_is_stored_in_nfc_so_one_thread_is_one_thread(client, clean_database):
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    assert nfc != nfd
    first = client.post("/comments", json={"name": nfd, "comment": nfd, "thread": nfc}).get_json()
    second = client.post("/comments", json={"name": "Bo", "comment": "x", "thread": nfd}).get_json()
    assert first["thread"] == second["thread"] == nfc
    assert first["name"] == first["comment"] == nfc
    for thread in (nfc, nfd):  # either spelling finds both comments
        listed = client.get("/comments", query_string={"thread": thread}).get_json()["comments"]
        assert [c["id"] for c in listed] == [first["id"], second["id"]]
    assert {row[1] for row in stored_rows(clean_database)} == {nfc}
