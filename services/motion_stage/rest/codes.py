"""The vendor's error, status and phase code tables, served as the EW51 daemon serves them.

Names are the DLL's own enum spellings (what `str()` of a vendor enum gives, typos included), so a client
can match them against the `phase`/`status_code` values in task progress and results.
"""

from __future__ import annotations

from fastapi import APIRouter

Table = list[tuple[str, str]]   # (name, description), numbered from 0 in order

ERROR_CODES: dict[str, Table] = {
    "alignment": [("None", "Normal"), ("Axis", "Error due to an axis"), ("Aligning", "Alignment already running"),
                  ("Parameter", "Invalid parameter")],
    "angle-adjustment": [("None", "Normal"), ("Axis", "Error due to an axis"),
                         ("Adjusting", "Angle adjustment already running"), ("Parameter", "Invalid parameter")],
    "profile": [("None", "Normal"), ("Axis", "Error due to an axis"),
                ("Profiling", "Profile measurement already running"), ("Parameter", "Invalid parameter")],
}

STATUS_CODES: dict[str, Table] = {
    "alignment": [
        ("Stopping", "Stopped (not aligning)"), ("Success", "Alignment completed successfully"),
        ("Aligning", "Alignment in progress"), ("FieldSearchRangeOver", "No light found within the field search range"),
        ("ProfileDataOver", "Profile data exceeded the recording range"),
        ("PeakSearchCountOver", "Peak search repeated more than the maximum count"),
        ("PeakSearchRangeOver", "Peak beyond the peak search range"), ("InvalidParameter", "Invalid parameter"),
        ("ServoIsNotReady", "An axis in use has its servo off"), ("ServoIsAlarm", "An axis in use is in servo alarm"),
        ("StageOnLimit", "An axis in use reached a limit sensor"), ("VoltageLimit", "Signal voltage at its maximum"),
        ("PMRangeLimit", "Power meter could not range up further"),
        ("PMInitRangeChangeFail", "Power meter initial range could not be set"),
        ("PMDisconnected", "Power meter not connected"), ("RotationAdjustmentFail", "Rotation adjustment failed"),
        ("InPositionFail", "An axis did not reach in-position"), ("TorqueLimit", "Stopped by a torque limit")],
    "angle-adjustment": [
        ("Stopping", "Stopped (not adjusting)"), ("Success", "Angle adjustment completed successfully"),
        ("Adjusting", "Angle adjustment in progress"), ("ProfileDataOver", "Profile data exceeded the recording range"),
        ("InvalidParameter", "Invalid parameter"), ("ServoIsNotReady", "An axis in use has its servo off"),
        ("ServoIsAlarm", "An axis in use is in servo alarm"), ("StageOnLimit", "An axis in use reached a limit sensor"),
        ("SignalLowerLimit", "Contact signal below its lower limit"),
        ("CouldnotContact", "No contact detected within the contact search range"),
        ("AdjustCountOver", "Did not converge within the maximum repeat count"),
        ("AngleAdjustRnageOver", "Angle beyond the angle search range"),
        ("LostContact", "Contact lost while adjusting")],
    "profile": [
        ("Stopping", "Stopped (not measuring)"), ("Success", "Profile measurement completed successfully"),
        ("Profiling", "Profile measurement in progress"), ("ProfileDataOver", "Profile data exceeded the recording range"),
        ("InvalidParameter", "Invalid parameter"), ("ServoIsNotReady", "An axis in use has its servo off"),
        ("ServoIsAlarm", "An axis in use is in servo alarm"), ("StageOnLimit", "An axis in use reached a limit sensor"),
        ("TorqueLimit", "Stopped by a torque limit")],
}

PHASE_CODES: dict[str, Table] = {
    "alignment": [("NotAligning", "Not aligning"), ("Initializing", "Initializing"),
                  ("FieldSearching", "Searching the field for light"), ("PeakSearchingX", "Peak search along X"),
                  ("PeakSearchingY", "Peak search along Y"), ("PeakSearchingZ", "Peak search along Z"),
                  ("PeakSearchXCh2", "Peak search along X on channel 2"),
                  ("PeakSearchYCh2", "Peak search along Y on channel 2")],
    "angle-adjustment": [("NotAdjusting", "Not adjusting"), ("Initializing", "Initializing"),
                         ("ContactingZ", "Moving Z into contact"), ("AdjustingTx", "Adjusting the Tx axis"),
                         ("AdjustingTy", "Adjusting the Ty axis")],
}


def table(rows: Table, key: str) -> list[dict[str, object]]:
    return [{key: name, "value": i, "description": text} for i, (name, text) in enumerate(rows)]


def codes_router(group: str) -> APIRouter:
    """GET /{group}/error-codes, /status-codes and (when the procedure has phases) /phase-codes."""
    router = APIRouter(prefix=f"/{group}", tags=[group])
    errors, statuses, phases = ERROR_CODES[group], STATUS_CODES[group], PHASE_CODES.get(group)

    @router.get("/error-codes")
    async def error_codes() -> list[dict[str, object]]:
        """The vendor ErrorCode values a command can return."""
        return table(errors, "error")

    @router.get("/status-codes")
    async def status_codes() -> list[dict[str, object]]:
        """The vendor Status values a procedure ends (or runs) with."""
        return table(statuses, "status")

    if phases is not None:
        @router.get("/phase-codes")
        async def phase_codes() -> list[dict[str, object]]:
            """The vendor phase values reported while running."""
            return table(phases, "phase")

    return router
