"""GB 11643 check digits, masking and storage of ID numbers."""

from __future__ import annotations

import pytest

from accounts import id_numbers
from accounts.models import Candidate
from accounts.services import candidate_create

# Published sample numbers with known-correct check digits (the X one exercises the final X).
VALID = ["11010519491231002X", "440524188001010014", "110101199003074477"]


@pytest.mark.parametrize("number", VALID)
def test_valid_numbers_pass(number: str) -> None:
    assert id_numbers.is_valid(number)
    assert id_numbers.is_valid(number.lower())


@pytest.mark.parametrize(
    "number",
    ["11010519491231002Y", "440524188001010015", "11010119900307447", "1101011990030744770", "abc"],
)
def test_invalid_numbers_fail(number: str) -> None:
    assert not id_numbers.is_valid(number)
    with pytest.raises(id_numbers.InvalidIdNumber) as err:
        id_numbers.validate(number)
    assert number not in err.value.message


def test_make_valid_completes_check_digit() -> None:
    assert id_numbers.make_valid("11010519491231002") == "11010519491231002X"


def test_mask_keeps_prefix_and_last_four() -> None:
    assert id_numbers.mask("32010219900101123x") == "3201**********123X"


@pytest.mark.django_db
def test_candidate_stores_no_clear_id_number() -> None:
    candidate = candidate_create(ticket_number="13800138000", id_number="110101199003074477", name=" 张三 ")
    row = Candidate.objects.filter(pk=candidate.pk).values().get()
    assert all("110101199003074477" not in str(value) for value in row.values())
    assert row["name"] == "张三"
    assert row["id_number_masked"] == "1101**********4477"
    assert id_numbers.decrypt(row["id_number_encrypted"]) == "110101199003074477"
    assert row["id_number_hash"] == id_numbers.lookup_hash("110101199003074477")


@pytest.mark.django_db
def test_bad_ticket_number_is_refused_and_nothing_is_written() -> None:
    with pytest.raises(id_numbers.InvalidTicketNumber):
        candidate_create(ticket_number="12345", id_number="110101199003074477", name="x")
    assert Candidate.objects.count() == 0
