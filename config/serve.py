"""daphne with a redacting access log: ``python -m config.serve <daphne arguments>``.

daphne writes its access log (on by default at verbosity 1) straight to a stream, outside Python
logging, so config.logging's filter never sees it, and request lines carry query strings: the
export download link's ``?token=`` and the pairing QR's ``/m/pair?t=`` would land in the log.
This entry point is daphne itself with the request line passed through ``config.logging.redact``.
"""

from __future__ import annotations

import sys
from typing import Any

from daphne import cli
from daphne.access import AccessLogGenerator

from config.logging import redact


class RedactingAccessLog(AccessLogGenerator):
    def write_entry(self, host: Any, date: Any, request: str, *args: Any, **kwargs: Any) -> None:
        super().write_entry(host, date, redact(request), *args, **kwargs)


cli.AccessLogGenerator = RedactingAccessLog  # the name daphne's CLI instantiates

if __name__ == "__main__":
    sys.exit(cli.CommandLineInterface.entrypoint())
