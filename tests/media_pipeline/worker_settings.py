"""Production settings for the Celery workers of the redelivery test.

Redis restores an unacked message only after ``visibility_timeout``; production waits 300 s, the
test 3 s. The fault delay keeps each analysis running long enough to be killed in the middle.
"""

import os

from config.settings.production import *  # noqa: F403

# kombu sweeps for unacked messages every interval x throttle seconds (100 s by default): sweep
# every second here, or a task delivered less than 3 s before the new worker started waits 100 s.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
MEDIA_ANALYSIS_FAULT_DELAY_S = float(os.environ.get("MEDIA_ANALYSIS_FAULT_DELAY_S", "0"))
