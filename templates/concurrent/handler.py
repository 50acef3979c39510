"""The template's handler: everything a `service.py` imports.

It re-exports the shared core (`taskservice`), so services written for the
AI-Effect concurrent template port by changing one import, and every copy of
the template runs the same, tested code.
"""

from taskservice import (  # noqa: F401
    Callback,
    DataReference,
    ExecuteRequest,
    ExecuteResponse,
    OutputResponse,
    ServiceSettings,
    Task,
    TaskCancelled,
    TaskManager,
    TaskRecord,
    TaskStatus,
    create_app,
    method,
    run,
    run_in_background,
    task_manager,
)
from taskservice.data import file_reference, load  # noqa: F401
from taskservice.inputs import InputRefused  # noqa: F401  (an input the service's rules refuse)

StatusResponse = TaskRecord  # the seed's name for a status answer
