"""`load_schedule` and `load_demo`: the notice's schedule, demo people, idempotent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts import id_numbers
from accounts.models import Candidate
from accounts.roles import can_see_attempt, is_exam_admin, is_proctor
from exams import clock
from exams.models import Attempt, ExamSession, Subject
from exams.schedule import EXAM_TZ

pytestmark = pytest.mark.django_db


def test_load_schedule_is_the_notice_and_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("load_schedule", mock_date="2030-11-07", formal_date="2030-11-11")
    call_command("load_schedule", mock_date="2030-11-07", formal_date="2030-11-11")
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "schedule: mock 2030-11-07, formal 2030-11-11: 24 sessions (0 new), 0 new subjects"
    assert Subject.objects.count() == 4
    assert ExamSession.objects.count() == 24
    formal = ExamSession.objects.filter(kind="formal")
    slots = sorted(
        {
            (s.subject.name, f"{s.starts_at.astimezone(EXAM_TZ):%H:%M}-{s.ends_at.astimezone(EXAM_TZ):%H:%M}")
            for s in formal
        }
    )
    assert slots == [
        ("碳交易管理咨询", "13:00-15:00"),
        ("碳排放管理技术", "10:30-12:30"),
        ("碳监测管理技术", "15:00-17:00"),
        ("碳资产管理应用", "08:30-10:30"),
    ]
    assert sorted(set(formal.values_list("level", flat=True))) == ["intermediate", "junior", "senior"]
    mock = ExamSession.objects.filter(kind="mock").first()
    assert mock is not None
    assert f"{mock.starts_at.astimezone(EXAM_TZ):%Y-%m-%d %H:%M}" == "2030-11-07 09:00"
    assert f"{mock.ends_at.astimezone(EXAM_TZ):%H:%M}" == "18:00"
    assert mock.is_scored is False
    assert (mock.login_closes_after_s, mock.max_screen_leaves, mock.makeup_fee_yuan) == (900, 3, 100)


def test_load_demo_creates_a_running_formal_session_and_people(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("load_demo")
    call_command("load_demo")  # every `make run`
    out = capsys.readouterr().out
    session = ExamSession.objects.get(is_demo=True)
    minutes = (session.starts_at - clock.now()).total_seconds() / 60
    assert 0 < minutes <= 5
    assert session.kind == "formal"
    assert Candidate.objects.count() == 12
    assert Attempt.objects.filter(session=session).count() == 12
    ticket = "13800000001"
    id_number = id_numbers.make_valid("11010119900101001")
    assert f"{ticket}  {id_number}" in out
    assert Candidate.objects.get(ticket_number=ticket).id_number_hash == id_numbers.lookup_hash(id_number)
    users = get_user_model().objects
    proctor, admin = users.get(username="proctor"), users.get(username="admin")
    assert proctor.check_password("proctor-demo") and admin.check_password("admin-demo")
    assert is_proctor(proctor) and is_exam_admin(admin) and admin.is_superuser
    assert all(can_see_attempt(proctor, a) for a in Attempt.objects.filter(session=session))


def test_load_demo_replaces_a_demo_session_whose_login_closed() -> None:
    call_command("load_demo")
    old = ExamSession.objects.get(is_demo=True)
    clock.freeze(old.starts_at + timedelta(minutes=16))
    call_command("load_demo")
    new = ExamSession.objects.filter(is_demo=True).exclude(pk=old.pk).get()
    assert new.starts_at > clock.now()
    assert Attempt.objects.filter(session=new).count() == 12
