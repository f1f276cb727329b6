"""Writes for accounts. Keyword-only, typed; views and commands only translate I/O and call these."""

from __future__ import annotations

from django.db import transaction

from accounts import id_numbers
from accounts.models import Candidate


@transaction.atomic
def candidate_create(*, ticket_number: str, id_number: str, name: str) -> Candidate:
    """Create a candidate; the ID number is validated, then stored only hashed, encrypted and masked."""
    ticket = id_numbers.validate_ticket(ticket_number)
    number = id_numbers.validate(id_number)
    return Candidate.objects.create(
        ticket_number=ticket,
        name=name.strip(),
        id_number_hash=id_numbers.lookup_hash(number),
        id_number_encrypted=id_numbers.encrypt(number),
        id_number_masked=id_numbers.mask(number),
    )
