"""Request and response models of the orchestrator API, with the descriptions its OpenAPI shows.

Requests are validated by these models. Responses of the read routes are built as plain dicts by
`views` (big workflows are read on a hot path), so their models document the shape and Schemathesis
checks that what the routes return matches it; the small answers are validated by them. Nullable
fields default to None because the OpenAPI document drops nulls from examples.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator.ids import WORKFLOW_ID_PATTERN
from orchestrator.openapi_examples import (DIAMOND_BLUEPRINT, DIAMOND_DOCKERINFO, SUBMIT_EXAMPLE, TASK_EXAMPLE,
                                           WORKFLOW_EXAMPLE)
from taskservice.models import DataReference, TaskStatus

REPLACED_MAX_RETRIES = ("max_retries was replaced: service outages are tolerated for ORCHESTRATOR_OUTAGE_TOLERANCE "
                        "seconds, and options.max_attempts (per container: options.node_max_attempts) "
                        "gives a node its service fails more attempts")
STATUS_WORDS = "`pending`, `running`, `stopping`, `complete`, `failed` or `cancelled`"
NODE_KEYS = ("a container name (`source`: every operation of it) or a node name `container.operation` "
             "(`source.LongProcess`)")


class WorkflowOptions(BaseModel):
    """How the workflow runs; every option is optional and per workflow."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    node_timeout: float | None = Field(
        None, gt=0, description="seconds a node may run before it fails with `timed out after N s` "
        "(default: ORCHESTRATOR_NODE_TIMEOUT, none when unset)")
    node_timeouts: dict[str, Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(
        default_factory=dict, description=f"timeouts per node, keyed by {NODE_KEYS}; they win over "
        "`node_timeout`. An unknown key is a 422 naming it", examples=[{"sink": 30, "left.LongProcess": 10}])
    max_attempts: int | None = Field(
        None, ge=1, le=100, description="attempts a node gets when its service fails it (default 1: no retry). "
        "A service that is down or unreachable is not a failure: it is waited for during "
        "ORCHESTRATOR_OUTAGE_TOLERANCE seconds")
    node_max_attempts: dict[str, Annotated[int, Field(ge=1, le=100)]] = Field(
        default_factory=dict, description=f"`max_attempts` per node, keyed by {NODE_KEYS}",
        examples=[{"sink": 3}])
    max_retries: int | None = Field(None, description="replaced (a 422 says by what): see `max_attempts` and "
                                    "ORCHESTRATOR_OUTAGE_TOLERANCE")

    @field_validator("max_retries")
    @classmethod
    def _replaced(cls, v: int | None) -> None:
        if v is not None:
            raise ValueError(REPLACED_MAX_RETRIES)
        return None
    fail_fast: bool | None = Field(None, description="true: a failed node cancels the nodes still running and "
                                   "ends the workflow `failed`; false: independent branches run on "
                                   "(default: ORCHESTRATOR_FAIL_FAST, true)")


class SubmitRequest(BaseModel):
    """A blueprint, where its containers run (dockerinfo), the workflow's inputs, parameters and options."""

    model_config = ConfigDict(allow_inf_nan=False, json_schema_extra={"example": SUBMIT_EXAMPLE})

    blueprint: dict[str, Any] = Field(
        description="the pipeline as exported, in either dialect: AI-Effect `pipeline-topology/v2` (`type`, "
        "`pipeline_id`, `nodes`) or Acumos/AI4EU (`nodes` with `input_ports`, `probeIndicator`, ...). Each "
        "node is a `container_name` with an `operation_signature_list`; each operation's `connected_to` "
        "names the (container, operation) that consumes its output. Unknown fields are ignored; a shared "
        "folder node (`node_type` `Shared Folder`) is bridged, not run. The graph must be acyclic",
        examples=[DIAMOND_BLUEPRINT])
    dockerinfo: dict[str, Any] | list[Any] | None = Field(
        None, description="where each container answers: `{\"docker_info_list\": [{\"container_name\", "
        "\"ip_address\", \"port\"}]}` (or the bare list). `ip_address` is a host name or address, optionally "
        "`http(s)://host:port`; hosts must pass ORCHESTRATOR_ALLOWED_SERVICES (default: loopback and "
        "private ranges). A container without an entry is a 422 naming it", examples=[DIAMOND_DOCKERINFO])
    inputs: list[DataReference] = Field(
        default_factory=list, description="data references given to the root nodes (nodes no other feeds); "
        "every other node receives its parents' outputs")
    parameters: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description=f"parameters sent to a node's service, keyed by {NODE_KEYS}; a node "
        "gets its container's parameters updated by its own. An unknown key is a 422 naming it",
        examples=[{"source": {"duration": 2, "steps": 10}, "sink.LongProcess": {"steps": 5}}])
    workflow_id: str | None = Field(None, pattern=WORKFLOW_ID_PATTERN,
                                    description="ASCII letters, digits, '_', '.', '-'; at most 128 "
                                    "(default: `wf-` and 12 hex digits). Taken already: 409")
    services_api_key: str | None = Field(None, description="bearer token sent to this workflow's services "
                                         "(never returned)")
    options: WorkflowOptions = Field(default_factory=WorkflowOptions)


class SubmitResponse(BaseModel):
    workflow_id: str
    status: TaskStatus = Field(description="`pending`: the root nodes are queued for the workers")
    user: str | None = Field(None, description="the submitting key's user (none without keys)")


class ErrorResponse(BaseModel):
    """Every 4xx/5xx: `detail` says what is wrong and names the field, header or node at fault."""

    detail: str | list[dict[str, Any]] | dict[str, Any]
    field: str | None = None


class ChangedResponse(BaseModel):
    """The answer of cancel, retry and delete."""

    workflow_id: str
    status: str = Field(description=f"the workflow's status after the change ({STATUS_WORDS}, or `deleted`)")


class WorkflowSummary(BaseModel):
    """A workflow as listed: counters from its record, no node read."""

    workflow_id: str
    status: str | None = Field(None, description=STATUS_WORDS)
    name: str | None = Field(None, description="the blueprint's name")
    user: str | None = Field(None, description="owner (the submitting key's user)")
    created_at: str | None = Field(None, description="ISO 8601, UTC")
    started_at: str | None = None
    finished_at: str | None = None
    updated_at: str | None = None
    error: str | None = Field(None, description="why it failed or was cancelled")
    nodes_done: int = Field(description="nodes that ended (complete, failed or cancelled)")
    nodes_total: int
    progress: float = Field(description="percent, 0-100")


class WorkflowList(BaseModel):
    workflows: list[WorkflowSummary] = Field(description="newest first")
    total: int = Field(description="workflows matching the filters")
    offset: int
    limit: int


class FailedNode(BaseModel):
    node: str = Field(description="`container.operation`")
    error: str | None = None


class RunningNode(BaseModel):
    node: str
    task_id: str | None = None
    progress: float


class NodeBrief(BaseModel):
    node: str
    status: str | None = Field(None, description=f"{STATUS_WORDS}; null: never started")
    progress: float
    attempt: int


class WorkflowStatus(WorkflowSummary):
    """`GET /workflows/{id}`. With `?nodes=false`, `nodes` and `running_nodes` are left out and
    `nodes_done` and `progress` come from the workflow's counter."""

    model_config = ConfigDict(json_schema_extra={"example": WORKFLOW_EXAMPLE})

    nodes_complete: int = Field(description="nodes the workflow counted as done")
    failed_node: FailedNode | None = Field(None, description="the node whose failure ended the workflow")
    skipped_nodes: list[str] = Field(description="shared-folder containers (bridged, not run)")
    running_nodes: list[RunningNode] | None = Field(None, description="nodes running or stopping now")
    nodes: list[NodeBrief] | None = Field(None, description="every node in blueprint order")
    warnings: list[str] | None = Field(None, description="why the workflow may not progress, e.g. its ready "
                                       "nodes have waited ORCHESTRATOR_NO_WORKER_WARNING seconds with no live "
                                       "worker")


class TaskView(BaseModel):
    """One node run: a (container, operation) of the workflow and its current attempt."""

    model_config = ConfigDict(json_schema_extra={"example": TASK_EXAMPLE})

    task_id: str = Field(description="the id the node's service knows the run by")
    workflow_id: str
    node: str = Field(description="`container.operation`")
    node_key: str
    index: int = Field(description="position in blueprint order")
    container: str
    operation: str
    node_type: str
    service: str | None = Field(None, description="base URL of the container's service")
    status: str = Field(description=STATUS_WORDS)
    progress: float = Field(description="percent, 0-100, as the service reports it")
    details: Any = Field(None, description="the service's latest progress details")
    attempt: int
    attempts: int
    retries: int = Field(description="attempts retried after a failure")
    last_error: str | None = Field(None, description="the error of the latest failed attempt")
    upstream: list[str] = Field(description="the nodes feeding this one")
    user: str | None = None
    output: Any = Field(None, description="the service's result: data references (inline data or links)")
    error: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    updated_at: str | None = None
    inputs: Any = Field(None, description="the data references the node received")
    inputs_from: list[str] | None = Field(None, description="in a page of tasks, a non-root node names its "
                                          "parents here instead of repeating their outputs as `inputs`")


class TaskPage(BaseModel):
    workflow_id: str
    total: int = Field(description="nodes matching `status` (all nodes without it)")
    offset: int
    limit: int
    next_offset: int | None = Field(None, description="the `offset` of the next page; null on the last")
    tasks: list[TaskView]


class Health(BaseModel):
    """Liveness: the process answers and Redis does."""

    status: str = Field(description="`ok`, or `unavailable` (503) when Redis does not answer")
    redis: str = Field(description="`ok`, or the error Redis gave")
    redis_persistence: str | None = Field(None, description="what survives a Redis restart: `aof`, `rdb`, "
                                          "`aof+rdb` or `none`")
    egress: str = Field(description="the services policy (ORCHESTRATOR_ALLOWED_SERVICES)")
    allowed_services: str | None = Field(None, description="`default` or `configured`")
