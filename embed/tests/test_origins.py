import pytest
from django.core.exceptions import ValidationError

from embed.origins import matches, normalise_origin, parse_origins


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://Shop.Example.com", "https://shop.example.com"),
        ("https://shop.example.com/", "https://shop.example.com"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("https://*.example.com", "https://*.example.com"),
        ("  http://127.0.0.1:9000 ", "http://127.0.0.1:9000"),
    ],
)
def test_an_origin_is_stored_in_its_normal_form(given, stored):
    assert normalise_origin(given) == stored


@pytest.mark.parametrize(
    "bad",
    [
        "shop.example.com",  # no scheme
        "ftp://shop.example.com",
        "https://shop.example.com/path",
        "https://user:pw@shop.example.com",
        "https://shop.example.com?x=1",
        "https://shop.example.com; script-src *",  # would inject a directive
        "https://shop example.com",
        "https://*.com",  # every site under a top-level domain
        "https://sh*p.example.com",
        "https://shop.example.com:99999",
        "'self'",
        "*",
    ],
)
def test_anything_but_an_origin_is_refused(bad):
    with pytest.raises(ValidationError):
        normalise_origin(bad)


def test_a_list_names_each_bad_line_and_drops_blank_and_repeated_ones():
    assert parse_origins("https://a.example\n\nhttps://A.example/\nhttp://localhost:8000\n") == [
        "https://a.example",
        "http://localhost:8000",
    ]
    with pytest.raises(ValidationError) as error:
        parse_origins("https://a.example\nnot a site\nhttps://b.example/x")
    assert [message.split(":")[0] for message in error.value.messages] == ["Line 2", "Line 3"]


def test_the_list_is_capped():
    with pytest.raises(ValidationError, match="At most 20"):
        parse_origins("\n".join(f"https://s{n}.example.com" for n in range(21)))


def test_matching_an_origin_and_a_subdomain_wildcard():
    assert matches("https://shop.example.com", "https://shop.example.com")
    assert not matches("https://shop.example.com", "http://shop.example.com")
    assert matches("https://*.example.com", "https://eu.example.com")
    assert not matches("https://*.example.com", "https://example.com")
    assert not matches("https://*.example.com", "https://evil-example.com")
    assert not matches("https://*.example.com", "http://eu.example.com")
