import pytest

from lrs_platform.settings import absolute_http_url_setting, one_line_setting


def test_a_one_line_setting_folds_its_spaces_and_reads_blank_as_unset() -> None:
    assert one_line_setting("  Monday to Friday,\t9am  to 5pm ") == "Monday to Friday, 9am to 5pm"
    assert one_line_setting("   ") is None
    assert one_line_setting(None) is None


@pytest.mark.parametrize("text", ["0300\x00123", "desk\x1b[31m", "9am \u202eto 5pm"])
def test_a_one_line_setting_refuses_what_a_page_or_an_email_cannot_show(text: str) -> None:
    with pytest.raises(ValueError, match="holds"):
        one_line_setting(text)


def test_an_absolute_url_setting_loses_its_trailing_slash_and_names_itself_when_refused() -> None:
    assert absolute_http_url_setting("https://lrs.example.org/", "X_URL") == "https://lrs.example.org"
    for wrong in ("lrs.example.org", "ftp://lrs.example.org", "https://lrs.example.org/a b"):
        with pytest.raises(ValueError, match="X_URL must be an absolute http"):
            absolute_http_url_setting(wrong, "X_URL")


def test_an_absolute_url_setting_given_no_name_leaves_naming_it_to_the_refusal_line() -> None:
    """A field's validator: `refusal_lines` names the variable, so the words do not again."""
    with pytest.raises(ValueError, match=r"^not an absolute http\(s\) URL$"):
        absolute_http_url_setting("lrs.example.org")
