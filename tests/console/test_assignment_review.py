"""Candidates split evenly among a session's proctors; reassignment; review verdicts; audit."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from exams import clock
from exams.models import Attempt
from monitor.console import services
from monitor.console.errors import AttemptNotFinished, ChiefRequired, InvalidVerdict, NoProctors
from monitor.console.models import ProctorActionAudit, ReviewVerdict
from tests.console import factories as f

pytestmark = pytest.mark.django_db


def _load(session_id: int) -> Counter:
    return Counter(Attempt.objects.filter(session_id=session_id).values_list("proctor_id", flat=True))


def test_split_deals_candidates_round_robin_evenly():
    chief = f.staff("chief", Role.CHIEF_PROCTOR)
    p1, p2, p3 = f.staff("p1"), f.staff("p2"), f.staff("p3")
    session, attempts = f.session_with_candidates(10, proctors=[p1, p2, p3])
    load = services.attempts_split(session_id=session.pk, actor=chief)
    assert load == {p1.pk: 4, p2.pk: 3, p3.pk: 3}
    assert _load(session.pk) == Counter({p1.pk: 4, p2.pk: 3, p3.pk: 3})
    # Round-robin in ticket order: p1, p2, p3, p1, ...
    ordered = list(Attempt.objects.filter(session=session).order_by("candidate__ticket_number"))
    assert [a.proctor_id for a in ordered[:4]] == [p1.pk, p2.pk, p3.pk, p1.pk]
    audit = ProctorActionAudit.objects.get(action="attempts_split")
    assert audit.details["moved"] == 10


def test_split_without_rebalance_only_moves_unassigned_candidates():
    chief = f.staff("chief", Role.CHIEF_PROCTOR)
    p1, p2 = f.staff("p1"), f.staff("p2")
    session, attempts = f.session_with_candidates(4, proctors=[p1, p2])
    Attempt.objects.filter(pk__in=[a.pk for a in attempts[:3]]).update(proctor=p1)
    services.attempts_split(session_id=session.pk, actor=chief)
    assert _load(session.pk) == Counter({p1.pk: 3, p2.pk: 1})
    services.attempts_split(session_id=session.pk, actor=chief, rebalance=True)
    assert _load(session.pk) == Counter({p1.pk: 2, p2.pk: 2})


def test_split_is_refused_to_a_plain_proctor_and_without_proctors():
    p1 = f.staff("p1")
    chief = f.staff("chief", Role.CHIEF_PROCTOR)
    session, attempts = f.session_with_candidates(2, proctors=[p1])
    with pytest.raises(ChiefRequired):
        services.attempts_split(session_id=session.pk, actor=p1)
    empty, _ = f.session_with_candidates(1, start_index=50, code="carbon-trade")
    with pytest.raises(NoProctors):
        services.attempts_split(session_id=empty.pk, actor=chief)
    assert _load(session.pk) == Counter({None: 2})
    assert not ProctorActionAudit.objects.filter(action="attempts_split").exists()


def test_chief_reassigns_one_candidate_over_http_and_a_proctor_cannot():
    chief = f.staff("chief", Role.CHIEF_PROCTOR)
    p1, p2 = f.staff("p1"), f.staff("p2")
    outsider = f.staff("outsider")
    session, (attempt,) = f.session_with_candidates(1, proctors=[p1, p2])
    Attempt.objects.filter(pk=attempt.pk).update(proctor=p1)
    url = reverse("console:reassign", args=[attempt.pk])

    client = Client()
    client.force_login(p1)
    refused = client.post(url, {"proctor_id": p2.pk})
    assert refused.status_code == 403
    assert refused.json()["code"] == "chief_required"
    client.force_login(chief)
    not_in_session = client.post(url, {"proctor_id": outsider.pk})
    assert not_in_session.json()["code"] == "proctor_not_in_session"
    assert Attempt.objects.get(pk=attempt.pk).proctor_id == p1.pk

    ok = client.post(url, {"proctor_id": p2.pk})
    assert ok.status_code == 302
    assert Attempt.objects.get(pk=attempt.pk).proctor_id == p2.pk
    audit = ProctorActionAudit.objects.get(action="attempt_reassign")
    assert audit.details == {"from": p1.pk, "to": p2.pk}


def test_a_proctor_assigned_to_some_candidates_sees_only_those():
    p1, p2 = f.staff("p1"), f.staff("p2")
    session, attempts = f.session_with_candidates(3)
    Attempt.objects.filter(pk=attempts[0].pk).update(proctor=p1)
    Attempt.objects.filter(pk__in=[attempts[1].pk, attempts[2].pk]).update(proctor=p2)
    client = Client()
    client.force_login(p1)
    page = client.get(reverse("console:grid", args=[session.pk]))
    assert [t.attempt_id for t in page.context["tiles"]] == [attempts[0].pk]
    assert client.get(reverse("console:attempt", args=[attempts[1].pk])).status_code == 403


def test_review_verdict_after_the_exam_is_recorded_changed_and_audited():
    p1 = f.staff("p1")
    session, (attempt,) = f.session_with_candidates(1, proctors=[p1], minutes=60)
    with clock.frozen_at(session.ends_at + timedelta(minutes=1)):
        services.review_verdict_set(
            attempt_id=attempt.pk, verdict="suspicious", notes="  看向左侧多次 ", actor=p1
        )
        client = Client()
        client.force_login(p1)
        response = client.post(
            reverse("console:verdict", args=[attempt.pk]), {"verdict": "violation", "notes": "确认有他人提示"}
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("console:review", args=[session.pk])
    verdict = ReviewVerdict.objects.get(attempt=attempt)
    assert (verdict.verdict, verdict.notes, verdict.reviewer_id) == ("violation", "确认有他人提示", p1.pk)
    audits = list(ProctorActionAudit.objects.filter(action="review_verdict").order_by("pk"))
    assert [(a.details["previous"], a.details["verdict"]) for a in audits] == [
        (None, "suspicious"),
        ("suspicious", "violation"),
    ]
    assert audits[0].details["notes"] == "看向左侧多次"


def test_review_verdict_is_refused_during_the_exam_and_for_bad_input():
    p1 = f.staff("p1")
    session, (attempt,) = f.session_with_candidates(1, proctors=[p1])
    with clock.frozen_at(session.starts_at + timedelta(minutes=5)):
        with pytest.raises(AttemptNotFinished):
            services.review_verdict_set(attempt_id=attempt.pk, verdict="clean", actor=p1)
        with pytest.raises(InvalidVerdict):
            services.review_verdict_set(attempt_id=attempt.pk, verdict="great", actor=p1)
        client = Client()
        client.force_login(p1)
        response = client.post(reverse("console:verdict", args=[attempt.pk]), {"verdict": "clean"})
    assert response.status_code == 409
    assert response.json()["code"] == "attempt_not_finished"
    assert not ReviewVerdict.objects.exists()
    assert not ProctorActionAudit.objects.filter(action="review_verdict").exists()


def test_review_queue_lists_unreviewed_first():
    p1 = f.staff("p1")
    session, attempts = f.session_with_candidates(3, proctors=[p1], minutes=60)
    with clock.frozen_at(session.ends_at + timedelta(minutes=1)):
        services.review_verdict_set(attempt_id=attempts[0].pk, verdict="clean", actor=p1)
        client = Client()
        client.force_login(p1)
        page = client.get(reverse("console:review", args=[session.pk]))
        pending = client.get(reverse("console:review", args=[session.pk]) + "?pending=1")
    assert [r.attempt.pk for r in page.context["rows"]] == [attempts[1].pk, attempts[2].pk, attempts[0].pk]
    assert [r.attempt.pk for r in pending.context["rows"]] == [attempts[1].pk, attempts[2].pk]
