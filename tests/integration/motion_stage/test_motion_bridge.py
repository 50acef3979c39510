"""The pythonnet bridge: a C# stand-in of srgmc.dll, compiled by mcs, driven through the real adapter.

pythonnet can load one .NET runtime per process, so the driver runs in a subprocess. Without Mono
(`mcs` and libmonosgen from Debian's mono-devel) the test is skipped with the reason printed.
"""

from __future__ import annotations

import ctypes.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

SOURCE = ROOT / "services/motion_stage/dotnet/SrgmcStandIn.cs"
DRIVER = Path(__file__).with_name("bridge_driver.py")


def _missing() -> str | None:
    if shutil.which("mcs") is None:
        return "mcs not found (install Debian package mono-devel)"
    if ctypes.util.find_library("monosgen-2.0") is None:
        return "libmonosgen-2.0 not found (install Debian package mono-devel)"
    if not Path("/usr/lib/mono/4.5/Facades/netstandard.dll").exists():
        return "Mono's netstandard facade is missing (install Debian package mono-devel)"
    try:
        import pythonnet  # noqa: F401
    except ImportError:
        return "pythonnet is not installed"
    return None


def test_bridge_move_cancel_and_error_code_through_the_real_adapter(tmp_path):
    reason = _missing()
    if reason:
        print(f"SKIP bridge test: {reason}")
        pytest.skip(reason)
    dll = tmp_path / "srgmc.dll"
    subprocess.run(["mcs", "-target:library", "-nologo", f"-out:{dll}", str(SOURCE)], check=True,
                   capture_output=True, text=True, timeout=60)
    proc = subprocess.run([sys.executable, str(DRIVER), str(dll), "mono"], capture_output=True, text=True,
                          timeout=90, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"driver failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    out = json.loads(lines[-1][len("RESULT "):])
    print("\nbridge:", json.dumps(out, indent=1))

    assert "Mono" in out["runtime"]
    assert out["connect"]["dll_version"].endswith("(C# stand-in)")
    assert out["enum_str"] == ["None", "Moving", 3]
    assert out["module"] != "services.motion_stage.simulator"          # really a .NET object

    move = out["move"]
    assert move["final"] == pytest.approx(200.0) and move["status"] == "InPosition"
    assert move["intermediate"] >= 3

    cancel = out["cancel"]
    assert cancel["cancelled"] and 0 < cancel["travelled"] < 100.0
    assert cancel["status"] == "InPosition" and cancel["moving_after"] is False

    assert out["errors"]["servo_off"]["status"] == "ServoOff" and "ServoOff" in out["errors"]["servo_off"]["message"]
    assert out["errors"]["limit"]["status"] == "Limit"
    assert out["stop_all"] == []
