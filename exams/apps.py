import os
import sys

from django.apps import AppConfig
from django.conf import settings

# Processes that serve the product (and so own the embedded profile's deadline scheduler).
_SERVERS = {"daphne", "uvicorn"}


def is_serving_process(argv: list[str]) -> bool:
    """Only the server runs the scheduler: not manage.py commands (migrate, load_demo), not pytest, not
    Celery workers. EXAMS_INPROCESS_SCHEDULER_FORCE=1 overrides (a custom launcher)."""
    if os.environ.get("EXAMS_INPROCESS_SCHEDULER_FORCE") == "1":
        return True
    program = os.path.basename(argv[0]) if argv else ""
    if program == "serve.py" and os.path.basename(os.path.dirname(argv[0])) == "config":
        return True  # `python -m config.serve`: daphne with a redacting access log
    return program in _SERVERS or (program == "manage.py" and argv[1:2] == ["runserver"])


class ExamsConfig(AppConfig):
    name = "exams"

    def ready(self) -> None:
        enabled = getattr(settings, "EXAMS_INPROCESS_SCHEDULER", None)
        if enabled is None:
            enabled = bool(getattr(settings, "TASKS_IN_PROCESS", False))
        if enabled and is_serving_process(sys.argv):
            from exams.scheduler import start_in_process_scheduler

            start_in_process_scheduler()
