"""A service's OpenAPI document: its own title and each execute_<Method> as a discriminated execute body."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from taskservice import ServiceSettings, TaskManager, create_app

ROOT = Path(__file__).resolve().parents[3]


def load(path: Path, name: str):
    for folder in (str(path.parent), str(ROOT)):
        sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # as `python service.py` has it: its models resolve their names
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(path.parent))
        sys.path.remove(str(ROOT))


def openapi(path: Path, name: str, **settings) -> dict:
    return create_app(load(path, name), manager=TaskManager(), settings=ServiceSettings(**settings)).openapi()


def test_ts_openapi_template_methods_are_execute_bodies_discriminated_by_method():
    doc = openapi(ROOT / "templates" / "concurrent" / "service.py", "ts_openapi_template")
    assert doc["info"]["title"] == "Example concurrent service"
    execute = doc["paths"]["/control/execute"]["post"]
    body = execute["requestBody"]["content"]["application/json"]["schema"]
    assert body["discriminator"]["propertyName"] == "method"
    mapping = body["discriminator"]["mapping"]
    assert {"LongProcess", "QuickTask", "TrainModel", "MakeDataset", "LongTask"} <= set(mapping)
    assert {"$ref": mapping["LongProcess"]} in body["oneOf"]
    schemas = doc["components"]["schemas"]
    long = schemas[mapping["LongProcess"].rsplit("/", 1)[-1]]
    assert long["properties"]["method"]["const"] == "LongProcess"
    assert "Work for `duration` seconds" in long["description"] and "background" in long["description"]
    params = long["properties"]["parameters"]["$ref"].rsplit("/", 1)[-1]
    assert set(schemas[params]["properties"]) >= {"duration", "steps"}
    assert schemas[params]["properties"]["duration"]["minimum"] == 0
    assert "method" in long["required"]
    quick = schemas[mapping["QuickTask"].rsplit("/", 1)[-1]]
    assert "quick" in quick["description"] and "echo the inputs" in quick["description"]
    assert "**TrainModel** (background)" in execute["description"]
    # every $ref resolves
    text = str(doc)
    import re
    for ref in set(re.findall(r"#/components/schemas/([A-Za-z0-9_.\-]+)", text)):
        assert ref in schemas, ref
    assert execute["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/TaskRecord")
    assert "404" in doc["paths"]["/control/status/{task_id}"]["get"]["responses"]
    assert "/metrics" in doc["paths"]


def test_ts_openapi_titles_of_the_motion_stage_and_beam_analysis_and_the_setting():
    motion = openapi(ROOT / "services" / "motion_stage" / "service.py", "ts_openapi_motion")
    assert motion["info"]["title"] == "Motion-stage service"
    mapping = motion["paths"]["/control/execute"]["post"]["requestBody"]["content"]["application/json"][
        "schema"]["discriminator"]["mapping"]
    assert "ProfileMeasurement" in mapping
    beam = openapi(ROOT / "services" / "beam_analysis" / "service.py", "ts_openapi_beam")
    assert beam["info"]["title"] == "Beam analysis service"
    named = openapi(ROOT / "services" / "beam_analysis" / "service.py", "ts_openapi_beam2", title="Beam lab")
    assert named["info"]["title"] == "Beam lab"
