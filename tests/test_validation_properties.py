"""Property-based tests of the validation code: whatever it accepts is storable and within the
contract; whatever it rejects, it rejects with its own error, never with a crash."""

import base64
import json
import unicodedata
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from comment import FIELD_LIMITS, MAX_BIGINT, TRIMMED, Position, ValidationError, validate_new_comment
from core.exceptions import InvalidInput
from web.payload import _parse_form, _parse_json, decode_cursor, encode_cursor

any_text = st.text(st.characters(codec=None), max_size=120) | st.text(max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(any_text, children, max_size=3),
    max_leaves=8,
)
field_names = st.sampled_from(["name", "comment", "thread", "parent_id", "id", "created_at"]) | any_text


def assert_storable(text: str, limit: int, allowed_controls: str = "") -> None:
    assert 1 <= len(text) <= limit
    for char in text:
        category = unicodedata.category(char)
        assert category != "Cs"
        assert category != "Cc" or char in allowed_controls
    text.encode("utf-8")  # what PostgreSQL will be sent


@given(st.dictionaries(field_names, json_values, max_size=6))
def test_accepted_comments_satisfy_the_contract(data):
    try:
        new = validate_new_comment(data)
    except ValidationError as error:
        assert error.fields and all(isinstance(v, str) for v in error.fields.values())
        return
    assert set(data) <= {"name", "comment", "thread", "parent_id"}
    assert_storable(new.name, FIELD_LIMITS["name"])
    assert_storable(new.comment, FIELD_LIMITS["comment"], "\n\t")
    assert_storable(new.thread, FIELD_LIMITS["thread"])
    assert new.name == new.name.strip(TRIMMED) and new.comment == new.comment.strip(TRIMMED)
    assert new.parent_id is None or (type(new.parent_id) is int and 1 <= new.parent_id <= MAX_BIGINT)


@given(st.text(max_size=100), st.text(max_size=100))
def test_surrounding_whitespace_never_decides_validity(name, comment):
    """Padding a value with spaces and newlines does not change what is stored."""
    plain = {"name": name, "comment": comment}
    padded = {"name": f"  {name}\t ", "comment": f"\n {comment} \r\n"}
    try:
        expected = validate_new_comment(plain)
    except ValidationError:
        expected = None
    try:
        got = validate_new_comment(padded)
    except ValidationError:
        got = None
    if expected is not None:
        assert got == expected


@given(st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_body_parsers_fail_only_with_api_errors(raw):
    for parse in (_parse_json, _parse_form):
        try:
            result = parse(raw)
        except InvalidInput as error:
            assert error.code in ("malformed_json", "not_an_object", "malformed_form", "invalid_fields")
        else:
            assert isinstance(result, dict)


@given(json_values)
def test_any_json_document_is_parsed_or_refused_cleanly(value):
    raw = json.dumps(value).encode()
    try:
        assert isinstance(_parse_json(raw), dict)
    except InvalidInput as error:
        assert error.code in ("not_an_object", "malformed_json")


API_TIMES = st.datetimes(timezones=st.just(UTC)).map(
    lambda moment: moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
)


@given(
    st.integers(min_value=1, max_value=MAX_BIGINT),
    API_TIMES | st.sampled_from(["infinity", "-infinity"]),
    st.integers(min_value=1, max_value=MAX_BIGINT),
)
def test_cursors_round_trip(txid, created_at, last_id):
    cursor = encode_cursor(Position(txid, created_at, last_id))
    assert decode_cursor(cursor) == Position(txid, created_at, last_id)
    assert cursor.isascii() and len(cursor) <= 120


@given(st.integers(min_value=1, max_value=MAX_BIGINT), st.integers(min_value=1, max_value=MAX_BIGINT))
def test_a_v2_cursor_names_its_whole_transaction_in_the_direction_of_reading(txid, last_id):
    cursor = base64.urlsafe_b64encode(f"v2:{txid}:{last_id}".encode()).decode().rstrip("=")
    assert decode_cursor(cursor) == Position(txid, "infinity", last_id)
    assert decode_cursor(cursor, newest_first=True) == Position(txid, "-infinity", last_id)


@given(st.text(max_size=120) | st.builds(lambda text: base64.urlsafe_b64encode(text.encode()).decode(), st.text()))
def test_arbitrary_cursors_decode_to_a_valid_position_or_nothing(text):
    decoded = decode_cursor(text)
    if decoded is not None:
        assert 0 <= decoded.txid <= MAX_BIGINT and 0 <= decoded.id <= MAX_BIGINT
        assert decoded.created_at.endswith("infinity") or datetime.fromisoformat(decoded.created_at)
