"""The documented shape of every id a client gives the orchestrator.

Ids end up in Redis keys, task ids and URL paths of node services, so they are
restricted at the door (a 422 naming the field) to a character set that needs
no escaping anywhere: ASCII letters and digits first, then letters, digits,
`_`, `.` and `-`. Paths built from them are still percent-encoded on the way out.

=================  ===========  ==========================================
id                 max length   pattern
=================  ===========  ==========================================
workflow id        128          `WORKFLOW_ID_PATTERN`
container name     128          `NAME_PATTERN` (blueprint, dockerinfo)
operation name     128          `NAME_PATTERN`
task id / node     200          `TASK_REF_PATTERN` (task id, node name or index)
=================  ===========  ==========================================
"""

from __future__ import annotations

import re

WORKFLOW_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"
TASK_REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$"
USER_PATTERN = r"^[^\x00-\x1f\x7f]{1,128}$"

_NAME = re.compile(NAME_PATTERN)


def valid_name(value: object) -> bool:
    """Whether `value` is a usable container or operation name."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None
