"""liveshop.jsoninput: outside JSON read strictly, every refusal a ValueError with a reason."""

import json

import pytest

from liveshop import jsoninput


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("NaN", "NaN is not a JSON number"),
        ('{"a": Infinity}', "Infinity is not a JSON number"),
        ("[-Infinity]", "-Infinity is not a JSON number"),
        ("[" * 17 + "]" * 17, "nested more than 16 levels deep"),
        ("[" * 100_000 + "]" * 100_000, "nested more than 16 levels deep"),  # past the recursion limit
        (b"\xff", "not UTF-8 text"),
    ],
)
def test_refusals_are_json_input_errors_with_a_reason(text, reason):
    with pytest.raises(jsoninput.JSONInputError, match=reason) as caught:
        jsoninput.loads(text)
    assert isinstance(caught.value, ValueError)


def test_text_that_is_not_json_keeps_its_line_and_column():
    with pytest.raises(json.JSONDecodeError) as caught:
        jsoninput.loads('{\n"a": }')
    assert (caught.value.lineno, caught.value.colno) == (2, 6)


def test_ordinary_json_and_the_depth_limit_itself_are_accepted():
    assert jsoninput.loads('{"cues": [{"productId": 12, "startMs": 1.5e3}]}') == {
        "cues": [{"productId": 12, "startMs": 1500.0}]
    }
    assert jsoninput.loads("[" * 16 + "]" * 16, max_depth=16) is not None
    assert jsoninput.loads('{"a": {"b": 1}}', max_depth=2) == {"a": {"b": 1}}
    with pytest.raises(jsoninput.JSONInputError):
        jsoninput.loads('{"a": {"b": {}}}', max_depth=2)
