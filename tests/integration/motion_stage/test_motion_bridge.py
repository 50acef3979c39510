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


def test_bridge_through_the_real_adapter(tmp_path):
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

    assert out["line2d"]["final"] == [pytest.approx(30.0), pytest.approx(40.0)]
    assert out["line2d"]["status"] == "InPosition"
    cut = out["line3d_cancel"]
    assert cut["cancelled"] and cut["moving_after"] is False
    assert 30.0 < cut["position"][0] < 330.0
    assert (cut["position"][2] - 0.0) == pytest.approx((cut["position"][0] - 30.0) * 4 / 3, rel=0.02)  # on the line
    assert out["dout"] == [True, True, False]
    assert out["ain5"] == pytest.approx(0.625)
    assert out["power"]["range"] == "Minus20" and out["power"]["wavelength_nm"] == 1550.0
    assert out["power_bad_channel"] == "ChannelOutOfRange"
    assert out["ready"] is True and out["batch_off"] is True
    assert out["system"]["is_connected"] is True and out["system"]["is_emergency_asserted"] is False
    assert out["axis_state"]["error_value"] == 0 and out["axis_state"]["error_code"] == "None"
