"""The GB 11643 check digit and birth date: every single mistyped digit is caught, and the error
says what is wrong."""

from __future__ import annotations

from datetime import date

import pytest

from xueliang.core.errors import ValidationFailed
from xueliang.hospital.idcheck import check_digit, check_phone, mask, mask_phone, parse

TODAY = date(2030, 3, 4)


def test_known_numbers_and_their_check_characters() -> None:
    # The standard's worked example (GB 11643-1999 annex) and a number whose check character is X.
    assert check_digit("11010519491231002") == "X"
    assert parse("11010519491231002x", today=TODAY).number == "11010519491231002X"
    info = parse(" 513223195007080017 ", today=TODAY)
    assert (info.birth_date, info.sex) == (date(1950, 7, 8), "male")
    assert parse("513223195203150027", today=TODAY).sex == "female"


def test_every_single_wrong_digit_is_caught() -> None:
    good = "513223195007080017"
    for i in range(18):
        for c in "0123456789X" if i == 17 else "0123456789":
            bad = good[:i] + c + good[i + 1 :]
            if bad == good:
                continue
            with pytest.raises(ValidationFailed):
                parse(bad, today=TODAY)


@pytest.mark.parametrize(
    ("raw", "code", "says"),
    [
        ("51322319500708001", "id_format", "18"),
        ("5132231950070800171", "id_format", "18"),
        ("51322319500708X017", "id_format", "digits"),
        ("513223195013080017", "id_birth_date", "19501308"),
        ("513223203101010017", "id_birth_date", "plausible"),
        ("513223185001010017", "id_birth_date", "plausible"),
        ("513223195007080018", "id_check_digit", "check digit"),
    ],
)
def test_errors_say_what_is_wrong(raw: str, code: str, says: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse(raw, today=TODAY)
    assert err.value.code == code
    assert says in err.value.message


def test_masks_and_phones() -> None:
    assert mask("513223195007080017") == "513***********0017"
    assert mask_phone("13812345678") == "138****5678"
    assert check_phone("138 1234 5678") == "13812345678"
    assert check_phone("0837-7422120") == "0837-7422120"
    with pytest.raises(ValidationFailed):
        check_phone("12345")
