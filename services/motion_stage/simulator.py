"""A pure-Python stand-in for the vendor's `SurugaSeiki.Motion` namespace (srgmc.dll).

Same class, method and enum names as the DLL (see the API surface in the reference notes),
`str()` of an enum gives the DLL's spelling (typos included: `CouldnotContact`,
`AngleAdjustRnageOver`, `lockUnlockAdjustEnbale`), commands return error codes instead of raising,
getters return plain floats/bools. Parameter structs use `__slots__` and type checks, so a typo or a
float in a `uint16` field raises here (deliberately stricter than pythonnet, which drops typos silently).

The hardware is simulated in real time:

* axes move with a trapezoidal speed profile (max speed, acceleration, deceleration); positions are
  computed analytically from the clock, so polling costs nothing and any sampling rate is exact;
  `Axis2D`/`Axis3D` give every axis the same profile scaled by its share of the path (a straight line,
  also when stopped part way); `IO` ports and `PowerMeter` range/wavelength live in the controller;
* `Stop()` is asynchronous: `Moving -> Stopping -> InPosition` while the axis decelerates;
* soft limits end a move on the limit (`CwLimit`/`CcwLimit`, error `Limit`); servo off/alarm refuse moves;
* the optical power seen by the power meter is a Gaussian beam coupled between the left stage (axes 1-3)
  and the right stage (axes 7-9): its peak sits at a relative offset the caller does not know;
* `Alignment` does a spiral field search then centroid peak searches (X, Y, and Z for focus) by really
  moving the axes; `AngleAdjustment` really drives Z into contact and finds the parallel Tx/Ty angles;
  `Profile` scans an axis and hands out the samples in packets of at most 1,000 points.

`create(SimConfig(...))` returns an isolated namespace (its own hardware); the module-level names are
bound to a default instance, so `import simulator as Motion` has the DLL's shape.
"""

from __future__ import annotations

import math
import random
import threading
import time
import types
from dataclasses import dataclass
from enum import Enum

__all__ = ["SimConfig", "SimulatedHardware", "create"]


# --------------------------------------------------------------------------------------------- enums
class VendorEnum(Enum):
    """An enum that prints like a pythonnet enum: `str()` is the .NET member name, `int()` the value.

    Like pythonnet 3, it does not compare equal to ints (`ErrorCode.None == 0` is False).
    """

    def __str__(self) -> str:
        return self.name

    def __int__(self) -> int:
        return self.value


def _enum(name: str, members: str | list[tuple[str, int]]) -> type[VendorEnum]:
    if isinstance(members, str):
        members = [(m, i) for i, m in enumerate(members.split())]
    return VendorEnum(name, members)


def _none(enum_cls):
    """`ErrorCode.None` is not valid Python syntax; this is how pythonnet code spells it too."""
    return getattr(enum_cls, "None")


# -------------------------------------------------------------------------------------------- structs
_U16, _U32, _I16, _F64, _BOOL = "uint16", "uint32", "int16", "float64", "bool"
_RANGES = {_U16: (0, 0xFFFF), _U32: (0, 0xFFFFFFFF), _I16: (-0x8000, 0x7FFF)}


class _Struct:
    """A .NET struct: fixed typed fields, unknown names raise AttributeError, wrong types TypeError."""

    __slots__ = ()
    _types: dict[str, object] = {}

    def __init__(self) -> None:
        for name, kind in self._types.items():
            if kind in _RANGES:
                default: object = 0
            elif kind == _F64:
                default = 0.0
            elif kind == _BOOL:
                default = False
            elif kind == "list":
                default = []
            else:  # an enum type: its first member
                default = next(iter(kind))  # type: ignore[call-overload]
            object.__setattr__(self, name, default)

    def __setattr__(self, name: str, value: object) -> None:
        kind = self._types.get(name)
        if kind is None:
            raise AttributeError(f"'{type(self).__name__}' has no field '{name}'")
        if kind in _RANGES:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{type(self).__name__}.{name} is {kind}, got {type(value).__name__}")
            lo, hi = _RANGES[kind]
            if not lo <= value <= hi:
                raise OverflowError(f"{type(self).__name__}.{name}: {value} out of {kind} range")
        elif kind == _F64:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{type(self).__name__}.{name} is float64, got {type(value).__name__}")
            value = float(value)
        elif kind == _BOOL:
            if not isinstance(value, bool):
                raise TypeError(f"{type(self).__name__}.{name} is bool, got {type(value).__name__}")
        elif kind == "list":
            value = list(value)  # type: ignore[call-overload]
        elif not isinstance(value, kind):  # type: ignore[arg-type]
            raise TypeError(f"{type(self).__name__}.{name} is {kind.__name__}, got {value!r}")  # type: ignore[union-attr]
        object.__setattr__(self, name, value)

    def _copy(self):
        other = type(self)()
        for name in self._types:
            object.__setattr__(other, name, getattr(self, name))
        return other

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._types if self._types[n] != "list")
        return f"{type(self).__name__}({inner})"


def _struct(name: str, spec: str, extra: dict[str, object] | None = None) -> type[_Struct]:
    """spec: 'uint16 a b; float64 c' -> typed fields a, b (uint16) and c (float64)."""
    types_: dict[str, object] = {}
    for group in spec.split(";"):
        words = group.split()
        if words:
            for fname in words[1:]:
                types_[fname] = words[0]
    types_.update(extra or {})
    return type(name, (_Struct,), {"__slots__": tuple(types_), "_types": types_})


_PROFILE_DATA_SPEC = ("uint16 mainAxisNumber sub1AxisNumber sub2AxisNumber signalCh1Number signalCh2Number;"
                      "uint32 packetIndex dataCount;"
                      "list mainPositionList sub1PositionList sub2PositionList signalCh1List signalCh2List")


# ---------------------------------------------------------------------------------------- configuration
@dataclass
class SimConfig:
    """Everything the simulated hardware needs; the service builds it from `MOTION_SIM_*` settings."""

    axis_count: int = 12
    linear_speed: float = 1000.0          # default max speed, um/s (angle axes: deg/s, see angle_*)
    linear_accel: float = 1000.0          # um/s^2 (acceleration and deceleration)
    linear_limit: float = 5000.0          # soft limits +-, um
    angle_speed: float = 1.0              # deg/s
    angle_accel: float = 10.0             # deg/s^2
    angle_limit: float = 5.0              # deg
    connect_delay: float = 0.05           # s between SetAddress and Connected
    servo_on: bool = False                # servos on at power-up (real hardware: off)
    sample_rate: float = 1000.0           # controller sampling of scan data, Hz
    # optical field: Gaussian beam between left (1-3) and right (7-9) stages, relative offset in um
    peak_x: float = 12.3
    peak_y: float = -7.8
    peak_z: float = 15.0
    peak_power_dbm: float = 0.0
    waist: float = 5.0                    # 1/e^2 intensity radius at focus, um
    rayleigh: float = 40.0                # Rayleigh range, um
    noise_dbm: float = -70.0              # additive noise floor
    seed: int = 1
    # contact model for angle adjustment (per stage): Z of the surface, tilt to be found, chip length
    contact_z: float = 40.0
    tilt_tx: float = 0.25                 # deg
    tilt_ty: float = -0.15                # deg
    chip_length: float = 2000.0           # um
    contact_gain: float = 0.2             # V per um of penetration


def _is_angle_axis(n: int) -> bool:
    return (n - 1) % 6 >= 3


# ------------------------------------------------------------------------------------------- kinematics
class _Move:
    """A rest-to-rest trapezoidal move, possibly cut short by a stop (decelerating at `decel`)."""

    def __init__(self, t0: float, p0: float, target: float, speed: float, accel: float, decel: float,
                 limit_hit: str | None = None) -> None:
        self.t0, self.p0, self.target = t0, p0, target
        self.dir = 1.0 if target >= p0 else -1.0
        self.D = abs(target - p0)
        self.a, self.d = accel, decel
        self.limit_hit = limit_hit
        v = speed
        if self.D <= v * v / (2 * accel) + v * v / (2 * decel):
            v = math.sqrt(2 * self.D * accel * decel / (accel + decel))
            tc = 0.0
        else:
            tc = (self.D - v * v / (2 * accel) - v * v / (2 * decel)) / v
        self.vp, self.ta, self.tc, self.td = v, v / accel if accel else 0.0, tc, v / decel if decel else 0.0
        self.T = self.ta + self.tc + self.td
        self.stop_t: float | None = None   # time (relative) at which a stop began
        self.stop_s = self.stop_v = 0.0

    def _plan(self, t: float) -> tuple[float, float]:
        """(distance, speed) of the planned profile at relative time t."""
        if t <= 0:
            return 0.0, 0.0
        if t < self.ta:
            return 0.5 * self.a * t * t, self.a * t
        sa = 0.5 * self.a * self.ta ** 2
        if t < self.ta + self.tc:
            return sa + self.vp * (t - self.ta), self.vp
        if t < self.T:
            tau = t - self.ta - self.tc
            return sa + self.vp * self.tc + self.vp * tau - 0.5 * self.d * tau * tau, self.vp - self.d * tau
        return self.D, 0.0

    def end(self) -> float:
        """Relative time at which the axis is at rest."""
        if self.stop_t is None:
            return self.T
        return self.stop_t + self.stop_v / self.d

    def at(self, t_abs: float) -> tuple[float, float]:
        """(position, signed speed) at absolute time."""
        t = t_abs - self.t0
        if self.stop_t is None or t <= self.stop_t:
            s, v = self._plan(t)
        else:
            tau = min(t - self.stop_t, self.stop_v / self.d)
            s, v = self.stop_s + self.stop_v * tau - 0.5 * self.d * tau * tau, self.stop_v - self.d * tau
        return self.p0 + self.dir * s, self.dir * v

    def stop(self, t_abs: float) -> None:
        t = t_abs - self.t0
        if self.stop_t is not None or t >= self.T:
            return
        s, v = self._plan(t)
        if t >= self.ta + self.tc:      # already decelerating as fast as a stop would
            return
        self.stop_t, self.stop_s, self.stop_v = max(t, 0.0), s, v

    def samples(self, rate: float) -> list[float]:
        """Positions along the whole move at the controller's sampling rate."""
        n = max(2, int(self.end() * rate) + 1)
        return [self.at(self.t0 + self.end() * k / (n - 1))[0] for k in range(n)]


class _Axis:
    def __init__(self, number: int, cfg: SimConfig) -> None:
        angle = _is_angle_axis(number)
        self.number = number
        self.pos = 0.0
        self.servo = cfg.servo_on
        self.alarm = False
        self.limit_state: str | None = None
        self.error = "None"
        self.max_speed = cfg.angle_speed if angle else cfg.linear_speed
        self.accel = self.decel = cfg.angle_accel if angle else cfg.linear_accel
        self.limit = cfg.angle_limit if angle else cfg.linear_limit
        self.move: _Move | None = None
        self.done = threading.Condition()


class SimulatedHardware:
    """The simulated controller: axes, optics, contact sensors. All access goes through one lock."""

    def __init__(self, cfg: SimConfig | None = None) -> None:
        self.cfg = cfg or SimConfig()
        self.lock = threading.RLock()
        self.axes = {n: _Axis(n, self.cfg) for n in range(1, self.cfg.axis_count + 1)}
        self.connect_at: float | None = None
        self.rng = random.Random(self.cfg.seed)
        self.wavelength: dict[int, float] = {}
        self.pm_range: dict[int, str] = {}
        self.dout: dict[int, bool] = {}
        self.aout: dict[int, float] = {}
        self.emergency = False

    # -- clock and state
    @staticmethod
    def now() -> float:
        return time.monotonic()

    @property
    def connected(self) -> bool:
        return self.connect_at is not None and self.now() >= self.connect_at

    def _settle(self, ax: _Axis, now: float | None = None) -> None:
        """Finish a move whose profile has ended (called under the lock before every read)."""
        mv = ax.move
        if mv is None:
            return
        now = self.now() if now is None else now
        if now - mv.t0 >= mv.end():
            ax.pos = mv.at(mv.t0 + mv.end())[0]
            ax.move = None
            if mv.limit_hit and mv.stop_t is None:
                ax.limit_state, ax.error = mv.limit_hit, "Limit"

    def position(self, n: int, now: float | None = None) -> float:
        with self.lock:
            ax = self.axes[n]
            self._settle(ax, now)
            return ax.move.at(self.now() if now is None else now)[0] if ax.move else ax.pos

    def moving(self, n: int) -> bool:
        with self.lock:
            ax = self.axes[n]
            self._settle(ax)
            return ax.move is not None

    def status(self, n: int) -> str:
        with self.lock:
            ax = self.axes[n]
            self._settle(ax)
            if not self.connected:
                return "NotConnected"
            if ax.alarm:
                return "ServoAlarm"
            if not ax.servo:
                return "ServoOff"
            if ax.move is not None:
                return "Stopping" if ax.move.stop_t is not None else "Moving"
            if ax.limit_state == "cw":
                return "CwLimit"
            if ax.limit_state == "ccw":
                return "CcwLimit"
            return "InPosition"

    def start_move(self, n: int, target: float, speed: float | None = None) -> str:
        """Begin a move; returns the AxisComponents.ErrorCode name."""
        with self.lock:
            ax = self.axes[n]
            self._settle(ax)
            if not self.connected:
                return "NotConnected"
            if ax.alarm:
                return "ServoAlarm"
            if not ax.servo:
                return "ServoOff"
            if ax.move is not None:
                return "Moving"
            if not math.isfinite(target):
                return "Parameter"
            if (ax.limit_state == "cw" and target > ax.pos) or (ax.limit_state == "ccw" and target < ax.pos):
                ax.error = "Limit"
                return "Limit"
            hit = None
            if target > ax.limit:
                target, hit = ax.limit, "cw"
            elif target < -ax.limit:
                target, hit = -ax.limit, "ccw"
            ax.limit_state, ax.error = None, "None"
            ax.move = _Move(self.now(), ax.pos, target, speed or ax.max_speed, ax.accel, ax.decel, hit)
            return "None"

    def start_line(self, targets: dict[int, float], speed: float | None = None,
                   accel: float | None = None, decel: float | None = None) -> str:
        """Begin an interpolated move of several axes along a straight line (Axis2D/Axis3D).

        Every axis gets the same trapezoid in time, scaled by its share of the path, so the tool point
        stays on the line while accelerating, cruising, decelerating and when stopped part way.
        """
        with self.lock:
            for n in targets:
                if n not in self.axes:
                    return "Parameter"
                ax = self.axes[n]
                self._settle(ax)
                if not self.connected:
                    return "NotConnected"
                if ax.alarm:
                    return "ServoAlarm"
                if not ax.servo:
                    return "ServoOff"
                if ax.move is not None:
                    return "Moving"
            if not all(math.isfinite(t) for t in targets.values()):
                return "Parameter"
            for n, t in targets.items():
                if abs(t) > self.axes[n].limit:
                    self.axes[n].error = "Limit"
                    return "Limit"
            deltas = {n: t - self.axes[n].pos for n, t in targets.items()}
            length = math.sqrt(sum(d * d for d in deltas.values()))
            if length == 0:
                return "None"
            v = speed or min(self.axes[n].max_speed for n in targets)
            a = accel or min(self.axes[n].accel for n in targets)
            d = decel or min(self.axes[n].decel for n in targets)
            now = self.now()
            for n, delta in deltas.items():
                ax = self.axes[n]
                ax.limit_state, ax.error = None, "None"
                share = abs(delta) / length
                if share == 0:
                    continue
                ax.move = _Move(now, ax.pos, targets[n], v * share, a * share, d * share)
            return "None"

    def stop(self, n: int, now: float | None = None) -> str:
        with self.lock:
            ax = self.axes[n]
            now = self.now() if now is None else now
            self._settle(ax, now)
            if not self.connected:
                return "NotConnected"
            if ax.move is not None:
                ax.move.stop(now)
            return "None"

    def servo(self, n: int, on: bool) -> str:
        with self.lock:
            ax = self.axes[n]
            self._settle(ax)
            if not self.connected:
                return "NotConnected"
            if not on and ax.move is not None:   # servo off mid-move: the axis freezes where it is
                ax.pos, ax.move = self.position(n), None
            if on and ax.alarm:
                return "ServoAlarm"
            ax.servo = on
            return "None"

    def wait_move(self, n: int, stop_event: threading.Event) -> tuple[_Move | None, bool]:
        """Block (in a simulator thread) until axis n rests. Returns (move, interrupted)."""
        with self.lock:
            mv = self.axes[n].move
        if mv is None:
            return None, False
        interrupted = False
        while True:
            with self.lock:
                remaining = mv.t0 + mv.end() - self.now()
            if remaining <= 0:
                break
            if not interrupted and stop_event.wait(remaining):
                interrupted = True
                self.stop(n)
            elif interrupted:
                time.sleep(remaining)
        self.moving(n)  # settle
        return mv, interrupted

    # -- physics
    def power_mw(self, rel: tuple[float, float, float]) -> float:
        c = self.cfg
        dx, dy, dz = rel[0] - c.peak_x, rel[1] - c.peak_y, rel[2] - c.peak_z
        zeta2 = (dz / c.rayleigh) ** 2
        w2 = c.waist ** 2 * (1 + zeta2)
        p = 10 ** (c.peak_power_dbm / 10) / (1 + zeta2) * math.exp(-2 * (dx * dx + dy * dy) / w2)
        return p + 10 ** (c.noise_dbm / 10) * (1 + 0.2 * self.rng.random())

    def relative(self, overrides: dict[int, float] | None = None) -> tuple[float, float, float]:
        """Left stage XYZ minus right stage XYZ (the coupling coordinate)."""
        pos = {n: self.position(n) for n in (1, 2, 3, 7, 8, 9) if n in self.axes}
        pos.update(overrides or {})
        return (pos.get(1, 0.0) - pos.get(7, 0.0), pos.get(2, 0.0) - pos.get(8, 0.0),
                pos.get(3, 0.0) - pos.get(9, 0.0))

    def power_dbm(self, overrides: dict[int, float] | None = None) -> float:
        return 10 * math.log10(self.power_mw(self.relative(overrides)))

    def true_peak(self, stage: str = "left") -> tuple[float, float, float]:
        """Where the aligned stage's X, Y, Z must go for maximum coupling (tests only)."""
        c = self.cfg
        if stage == "left":
            return (self.position(7) + c.peak_x, self.position(8) + c.peak_y, self.position(9) + c.peak_z)
        return (self.position(1) - c.peak_x, self.position(2) - c.peak_y, self.position(3) - c.peak_z)

    def contact_volts(self, z_axis: int, overrides: dict[int, float] | None = None) -> float:
        """Contact sensor of the stage owning z_axis: penetration of the chip into the surface."""
        c = self.cfg
        base = z_axis - 3
        pos = {n: self.position(n) for n in (z_axis, base + 4, base + 5)}
        pos.update(overrides or {})
        tx, ty = math.radians(pos[base + 4] - c.tilt_tx), math.radians(pos[base + 5] - c.tilt_ty)
        z_contact = c.contact_z - c.chip_length / 2 * (abs(math.sin(tx)) + abs(math.sin(ty)))
        return max(0.0, pos[z_axis] - z_contact) * c.contact_gain

    def analog(self, ch: int) -> float:
        """Analog inputs: 1-4 photodiode (V = mW), 5 contact sensor left, 6 contact sensor right."""
        if ch == 5:
            return self.contact_volts(3)
        if ch == 6:
            return self.contact_volts(9)
        return self.power_mw(self.relative())

    # -- test helpers (not part of the vendor API)
    def inject_alarm(self, n: int) -> None:
        with self.lock:
            ax = self.axes[n]
            if ax.move is not None:
                ax.pos, ax.move = self.position(n), None
            ax.alarm, ax.error = True, "ServoAlarm"


# ------------------------------------------------------------------------------- background procedures
class _Abort(Exception):
    """A procedure ends with this vendor status (e.g. FieldSearchRangeOver)."""

    def __init__(self, status: str, axis: int = 0) -> None:
        super().__init__(status)
        self.status, self.axis = status, axis


class _Interrupted(Exception):
    """Stop() was called: the procedure ended after the axes came to rest."""


_MOVE_ERROR_TO_STATUS = {"ServoOff": "ServoIsNotReady", "NotConnected": "ServoIsNotReady",
                         "ServoAlarm": "ServoIsAlarm", "Limit": "StageOnLimit", "Moving": "InPositionFail",
                         "Parameter": "InvalidParameter"}


class _Procedure:
    """A controller-side procedure (alignment, angle adjustment, profile) running on its own thread."""

    running_status = "Aligning"

    def __init__(self, hw: SimulatedHardware) -> None:
        self.hw = hw
        self.status = "Stopping"
        self.phase = "NotAligning"
        self.error_axis = 0
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.packets: dict[object, list] = {}

    @property
    def busy(self) -> bool:
        return self.status == self.running_status

    def launch(self, body) -> None:
        self.status, self.error_axis = self.running_status, 0
        self.stop_event.clear()
        self.packets = {}

        def run() -> None:
            try:
                body()
                self.status = "Success"
            except _Interrupted:
                self.status = "Stopping"
            except _Abort as exc:
                self.status, self.error_axis = exc.status, exc.axis
            except Exception:  # noqa: BLE001 - the controller reports a parameter problem
                self.status = "InvalidParameter"
            finally:
                self.phase = self.idle_phase

        self.thread = threading.Thread(target=run, name=f"sim-{type(self).__name__}", daemon=True)
        self.thread.start()

    idle_phase = "NotAligning"

    def move(self, n: int, target: float, speed: float) -> _Move | None:
        """Move axis n and wait; raise on vendor errors or Stop()."""
        if self.stop_event.is_set():
            raise _Interrupted
        err = self.hw.start_move(n, target, speed)
        if err != "None":
            raise _Abort(_MOVE_ERROR_TO_STATUS.get(err, "InvalidParameter"), n)
        mv, interrupted = self.hw.wait_move(n, self.stop_event)
        if interrupted:
            raise _Interrupted
        if mv is not None and mv.limit_hit:
            raise _Abort("StageOnLimit", n)
        return mv

    def pause(self, seconds: float) -> None:
        if self.stop_event.wait(seconds):
            raise _Interrupted

    def record(self, kind, main: int, main_pos: list[float], sub: int, sub_pos: list[float],
               signal: list[float], ch: int) -> None:
        self.packets.setdefault(kind, []).append((main, main_pos, sub, sub_pos, signal, ch))

    def packet_count(self, kind) -> int:
        n = sum(len(r[1]) for r in self.packets.get(kind, []))
        return (n + 999) // 1000

    def packet(self, kind, index: int, data_cls):
        rows = self.packets.get(kind, [])
        mains, subs, sigs = [], [], []
        for r in rows:
            mains += r[1]
            subs += r[3]
            sigs += r[4]
        lo, hi = (index - 1) * 1000, min(index * 1000, len(mains))
        data = data_cls()
        if rows and 1 <= index and lo < len(mains):
            data.mainAxisNumber, data.sub1AxisNumber = rows[0][0], rows[0][2]
            data.signalCh1Number = rows[0][5]
            data.packetIndex, data.dataCount = index, hi - lo
            data.mainPositionList, data.sub1PositionList = mains[lo:hi], subs[lo:hi]
            data.signalCh1List = sigs[lo:hi]
        return data


def _check_axis(hw: SimulatedHardware, n: int) -> None:
    if n not in hw.axes:
        raise _Abort("InvalidParameter", n)
    st = hw.status(n)
    if st in ("ServoOff", "NotConnected"):
        raise _Abort("ServoIsNotReady", n)
    if st == "ServoAlarm":
        raise _Abort("ServoIsAlarm", n)


class _AlignmentRun(_Procedure):
    running_status = "Aligning"
    idle_phase = "NotAligning"

    def scan(self, kind: str, main: int, target: float, speed: float, sub: int) -> tuple[list, list]:
        """Move `main` to target at `speed`, return (positions, dBm) sampled along the way."""
        hw = self.hw
        sub_pos = hw.position(sub)
        mv = self.move(main, target, speed)
        if mv is None:
            return [], []
        pos = mv.samples(hw.cfg.sample_rate)
        sig = [hw.power_dbm({main: p}) for p in pos]
        self.record(kind, main, pos, sub, [sub_pos] * len(pos), sig, self.pm_ch)
        return pos, sig

    def field_search(self, ax_x: int, ax_y: int, p) -> None:
        """Square spiral from the start point until the power exceeds the field search threshold."""
        self.phase = "FieldSearching"
        hw = self.hw
        x0, y0 = hw.position(ax_x), hw.position(ax_y)
        if hw.power_dbm() >= p.fieldSearchThreshold:
            return
        pitch_x = p.fieldSearchPitchX or 5.0
        pitch_y = p.fieldSearchPitchY or pitch_x
        first = p.fieldSearchFirstPitchX or pitch_x
        half_x, half_y = p.searchRangeX / 2, p.searchRangeY / 2
        x, y, leg = x0, y0, 0
        directions = [(1, 0), (0, 1), (-1, 0), (0, -1)]
        while True:
            dx, dy = directions[leg % 4]
            k = leg // 2 + 1                      # leg lengths 1, 1, 2, 2, 3, 3, ... pitches
            if dx:
                nx, ny = x + dx * (first if leg == 0 else k * pitch_x), y
            else:
                nx, ny = x, y + dy * k * pitch_y
            if abs(nx - x0) > half_x + 1e-9 or abs(ny - y0) > half_y + 1e-9:
                raise _Abort("FieldSearchRangeOver", ax_x if dx else ax_y)
            main, sub, target = (ax_x, ax_y, nx) if dx else (ax_y, ax_x, ny)
            speed = (p.fieldSearchSpeedX if dx else p.fieldSearchSpeedY) or p.fieldSearchSpeedX
            pos, sig = self.scan("FieldSearch", main, target, speed, sub)
            x, y = nx, ny
            if sig:
                best = max(range(len(sig)), key=sig.__getitem__)
                if sig[best] >= p.fieldSearchThreshold:
                    self.move(main, pos[best], speed)   # back to the brightest point seen
                    return
            leg += 1

    def peak_search(self, kind: str, main: int, sub: int, half: float, speed: float, threshold: float,
                    centroid_pct: float, search_half: float, origin: float) -> float:
        """Scan +-half around the current position, move to the centroid of the bright part.

        Returns how far the axis moved. Rescans when the maximum sits at the edge of the scan.
        """
        self.phase = {"PeakSearchX": "PeakSearchingX", "PeakSearchY": "PeakSearchingY",
                      "PeakSearchZ": "PeakSearchingZ"}[kind]
        hw = self.hw
        start = hw.position(main)
        for _ in range(8):
            centre = hw.position(main)
            if abs(centre - origin) > search_half + half:
                raise _Abort("PeakSearchRangeOver", main)
            self.move(main, centre - half, speed)
            pos, sig = self.scan(kind, main, centre + half, speed, sub)
            lin = [10 ** (s / 10) for s in sig]
            peak = max(lin)
            if 10 * math.log10(peak) < threshold:
                raise _Abort("PeakSearchRangeOver", main)
            i = lin.index(peak)
            if 0 < i < len(lin) - 1:
                cut = peak * centroid_pct / 100.0
                bright = [(p_, s_) for p_, s_ in zip(pos, lin) if s_ >= cut]
                target = sum(p_ * s_ for p_, s_ in bright) / sum(s_ for _, s_ in bright)
                self.move(main, target, speed)
                return abs(target - start)
            self.move(main, pos[i], speed)   # maximum at the edge: recentre there and scan again
        raise _Abort("PeakSearchCountOver", main)

    def run_alignment(self, p, focus: bool) -> None:
        hw = self.hw
        ax_x, ax_y = p.mainStageNumberX, p.mainStageNumberY
        ax_z = p.mainStageNumberZ if focus else None
        self.pm_ch = p.pmCh
        self.phase = "Initializing"
        for n in (ax_x, ax_y) + ((ax_z,) if focus else ()):
            _check_axis(hw, n)
        if p.searchRangeX <= 0 or p.searchRangeY <= 0 or p.fieldSearchSpeedX <= 0 or p.peakSearchSpeedX <= 0:
            raise _Abort("InvalidParameter")
        self.pause(0.01)
        origin = {ax_x: hw.position(ax_x), ax_y: hw.position(ax_y)}
        if focus:
            origin[ax_z] = hw.position(ax_z)
        self.field_search(ax_x, ax_y, p)
        half_x = max(2 * (p.fieldSearchPitchX or 5.0), 4 * p.convergentRangeX)
        half_y = max(2 * (p.fieldSearchPitchY or 5.0), 4 * p.convergentRangeY)
        thr = p.peakSearchThresholdXY if focus else p.peakSearchThreshold
        speed_y = p.peakSearchSpeedY or p.peakSearchSpeedX
        for _ in range(max(1, p.maxRepeatCount)):
            moved_x = self.peak_search("PeakSearchX", ax_x, ax_y, half_x, p.peakSearchSpeedX, thr,
                                       p.centroidThresholdX or 50.0, p.searchRangeX / 2, origin[ax_x])
            moved_y = self.peak_search("PeakSearchY", ax_y, ax_x, half_y, speed_y, thr,
                                       p.centroidThresholdY or 50.0, p.searchRangeY / 2, origin[ax_y])
            moved_z = 0.0
            if focus:
                half_z = max(p.searchRangeZ / 2, 4 * p.convergentRangeZ)
                moved_z = self.peak_search("PeakSearchZ", ax_z, ax_x, half_z, p.peakSearchSpeedZ or
                                           p.peakSearchSpeedX, p.peakSearchThresholdZ,
                                           p.centroidThresholdZ or 50.0, p.searchRangeZ, origin[ax_z])
            if (moved_x <= p.convergentRangeX and moved_y <= p.convergentRangeY
                    and (not focus or moved_z <= p.convergentRangeZ)):
                return
            half_x = max(min(half_x, 4 * moved_x + 2 * p.convergentRangeX), 3 * hw.cfg.waist)
            half_y = max(min(half_y, 4 * moved_y + 2 * p.convergentRangeY), 3 * hw.cfg.waist)
        raise _Abort("PeakSearchCountOver", ax_x)


_CONTACT_CLEARANCE_UM = 10.0   # how far past the push distance Z lifts before searching for contact again


class _AngleRun(_Procedure):
    running_status = "Adjusting"
    idle_phase = "NotAdjusting"

    def __init__(self, hw: SimulatedHardware) -> None:
        super().__init__(hw)
        self.phase = "NotAdjusting"

    def contact(self, z: int, p) -> float:
        """ContactingZ: drive Z forward until the contact signal passes the lower limit, then push."""
        hw = self.hw
        self.phase = "ContactingZ"
        threshold = max(p.signalLowerLimit, 1e-6)
        z0 = hw.position(z)
        if hw.contact_volts(z) >= threshold:     # already touching: lift just clear of the surface first
            lift = min(p.contactSearchRange / 2, 2 * p.pushDistance + _CONTACT_CLEARANCE_UM)
            self.move(z, z0 - lift, p.contactSearchSpeed)
            z0 = hw.position(z)
        lo, hi = z0, z0 + p.contactSearchRange
        z_touch = None
        if hw.contact_volts(z, {z: hi}) >= threshold:   # where the signal will cross the threshold
            for _ in range(60):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if hw.contact_volts(z, {z: mid}) < threshold else (lo, mid)
            z_touch = hi
        err = hw.start_move(z, z0 + p.contactSearchRange, p.contactSearchSpeed)
        if err != "None":
            raise _Abort(_MOVE_ERROR_TO_STATUS.get(err, "InvalidParameter"), z)
        with hw.lock:
            mv = hw.axes[z].move
        while hw.moving(z):
            if self.stop_event.is_set():
                hw.stop(z)
                hw.wait_move(z, threading.Event())
                raise _Interrupted
            if z_touch is not None and hw.position(z) >= z_touch:
                hw.stop(z)
                hw.wait_move(z, threading.Event())
                break
            time.sleep(0.002)
        if z_touch is None or hw.position(z) < z_touch:
            raise _Abort("CouldnotContact", z)
        if mv is not None:
            pos = mv.samples(hw.cfg.sample_rate)
            self.record("ContactZ", z, pos, 0, [], [hw.contact_volts(z, {z: x}) for x in pos], p.signalChNumber)
        self.move(z, z_touch + p.pushDistance, p.contactSearchSpeed)
        return z_touch

    def run_adjustment(self, p) -> None:
        hw = self.hw
        z, tx, ty = p.contactAxisNumber, p.angleAxisNumberTx, p.angleAxisNumberTy
        self.phase = "Initializing"
        for n in (z, tx, ty):
            _check_axis(hw, n)
        if p.contactSearchSpeed <= 0 or p.contactSearchRange <= 0 or p.angleSearchSpeedTx <= 0:
            raise _Abort("InvalidParameter")
        self.pause(0.01)
        origin = {tx: hw.position(tx), ty: hw.position(ty)}
        for _ in range(max(1, p.angleMaxCount)):
            z_contact = self.contact(z, p)
            moved = []
            for axis, kind, phase, rng, speed, conv in (
                    (tx, "AdjustmentTx", "AdjustingTx", p.angleSearchRangeTx, p.angleSearchSpeedTx,
                     p.angleConvergentRangeTx),
                    (ty, "AdjustmentTy", "AdjustingTy", p.angleSearchRangeTy, p.angleSearchSpeedTy or
                     p.angleSearchSpeedTx, p.angleConvergentRangeTy)):
                self.phase = phase
                centre = hw.position(axis)
                half = rng / 2
                self.move(axis, centre - half, speed)
                mv = self.move(axis, centre + half, speed)
                pos = mv.samples(hw.cfg.sample_rate) if mv else [centre]
                sig = [hw.contact_volts(z, {axis: a}) for a in pos]
                self.record(kind, axis, pos, z, [hw.position(z)] * len(pos), sig, p.signalChNumber)
                if max(sig) <= 0:
                    raise _Abort("LostContact", axis)
                # the surfaces are parallel where the penetration is smallest (centre of the flat bottom)
                low = min(sig) + 1e-9 + 0.002 * (max(sig) - min(sig))
                idx = [i for i, v in enumerate(sig) if v <= low]
                if idx[0] == 0 or idx[-1] == len(sig) - 1 or abs(centre - origin[axis]) > rng:
                    raise _Abort("AngleAdjustRnageOver", axis)
                best = (pos[idx[0]] + pos[idx[-1]]) / 2
                self.move(axis, best, speed)
                moved.append(abs(best - centre) <= max(conv, 1e-9))
            if all(moved):
                # back off by `gap` from the surface
                self.move(z, z_contact - p.gap, p.contactSearchSpeed)
                return
        raise _Abort("AdjustCountOver", tx)


class _ProfileRun(_Procedure):
    running_status = "Profiling"
    idle_phase = ""

    def run_profile(self, p) -> None:
        hw = self.hw
        main = p.mainAxisNumber
        _check_axis(hw, main)
        if p.speed <= 0 or p.mainRange <= 0:
            raise _Abort("InvalidParameter")
        centre = hw.position(main)
        self.move(main, centre - p.mainRange / 2, p.speed)
        mv = self.move(main, centre + p.mainRange / 2, p.speed)
        pos = mv.samples(hw.cfg.sample_rate) if mv else []
        ch = p.signalCh1Number
        if ch in (5, 6):
            sig = [hw.contact_volts(3 if ch == 5 else 9, {main: x}) for x in pos]
        else:
            sig = [hw.power_mw(hw.relative({main: x})) for x in pos]
        self.record("Profile", main, pos, p.sub1AxisNumber, [], sig, ch)
        self.move(main, centre, p.speed)


# ------------------------------------------------------------------------------ the vendor-shaped API
class System:
    """`SurugaSeiki.Motion.System`: the connection singleton (`System.Instance`)."""

    ErrorCode = _enum("ErrorCode", "NoError ConnectionLost VersionError MaxNumberOfErrorCode")
    MaxProfileNumber = 1
    ProfileDataPacketMaxDataNumber = 1000
    MaxAxisStageNumber = 12
    MaxAnalogInputChNumber = 6
    MaxAlignmentNumber = 2
    MaxAngleAdjustmentNumber = 2
    MaxPowerMeterChNumber = 2
    _hw: SimulatedHardware
    Instance: "System"

    def __init__(self, hw: SimulatedHardware) -> None:
        self._hw = hw

    @property
    def Connected(self) -> bool:  # noqa: N802 - vendor spelling
        return self._hw.connected

    @property
    def DllVersion(self) -> str:  # noqa: N802
        return "1.3.3.0 (simulator)"

    @property
    def SystemVersion(self) -> str:  # noqa: N802
        return "simulator"

    def SetAddress(self, addr: str) -> None:  # noqa: N802
        if not isinstance(addr, str):
            raise TypeError("SetAddress takes a string")
        with self._hw.lock:
            self._hw.connect_at = self._hw.now() + self._hw.cfg.connect_delay

    def DisconnectAds(self) -> None:  # noqa: N802
        with self._hw.lock:
            self._hw.connect_at = None

    def IsError(self) -> bool:  # noqa: N802
        return False

    def GetCurrentErrorCode(self):  # noqa: N802
        return self.ErrorCode.NoError

    def IsEmergencyAsserted(self) -> bool:  # noqa: N802
        return self._hw.emergency


class AxisComponents:
    """`SurugaSeiki.Motion.AxisComponents(uint16 axisNumber)`: one axis."""

    ErrorCode = _enum("ErrorCode", "None ServoAlarm ServoOff Moving NotConnected Limit Origin Parameter Torque")
    Status = _enum("Status", "ServoAlarm ServoOff Stopping InPosition Moving NotConnected CwLimit CcwLimit "
                             "CwTorqueLimit CcwTorqueLimit")
    _hw: SimulatedHardware

    def __init__(self, axisNumberm: int) -> None:  # the DLL's parameter name, typo included
        if isinstance(axisNumberm, bool) or not isinstance(axisNumberm, int):
            raise TypeError("AxisComponents(uint16)")
        if not 0 <= axisNumberm <= 0xFFFF:
            raise OverflowError("value out of range for uint16")
        self._n = axisNumberm

    def _err(self, name: str):
        return self.ErrorCode[name]

    def _valid(self) -> bool:
        return self._n in self._hw.axes

    def MoveAbsolute(self, position: float):  # noqa: N802
        if not self._valid():
            return self._err("Parameter")
        return self._err(self._hw.start_move(self._n, float(position)))

    def MoveRelative(self, distance: float):  # noqa: N802
        if not self._valid():
            return self._err("Parameter")
        with self._hw.lock:
            if self._hw.moving(self._n):
                return self._err("Moving") if self._hw.connected else self._err("NotConnected")
            return self._err(self._hw.start_move(self._n, self._hw.position(self._n) + float(distance)))

    def ReturnOrigin(self):  # noqa: N802
        return self.MoveAbsolute(0.0)

    def Stop(self):  # noqa: N802
        return self._err(self._hw.stop(self._n)) if self._valid() else self._err("Parameter")

    def TurnOnServo(self):  # noqa: N802
        return self._err(self._hw.servo(self._n, True)) if self._valid() else self._err("Parameter")

    def TurnOffServo(self):  # noqa: N802
        return self._err(self._hw.servo(self._n, False)) if self._valid() else self._err("Parameter")

    def ResetError(self):  # noqa: N802
        with self._hw.lock:
            ax = self._hw.axes.get(self._n)
            if ax is None:
                return self._err("Parameter")
            ax.alarm, ax.error = False, "None"
            return self._err("None")

    def GetTargetPosition(self) -> float:  # noqa: N802
        with self._hw.lock:
            ax = self._hw.axes.get(self._n)
            if ax is None:
                return 0.0
            self._hw._settle(ax)
            return ax.move.target if ax.move else ax.pos

    def GetActualPosition(self) -> float:  # noqa: N802
        return self._hw.position(self._n) if self._valid() else 0.0

    def IsServoOn(self) -> bool:  # noqa: N802
        return self._valid() and self._hw.axes[self._n].servo

    def IsServoAlarm(self) -> bool:  # noqa: N802
        return self._valid() and self._hw.axes[self._n].alarm

    def IsMoving(self) -> bool:  # noqa: N802
        return self._valid() and self._hw.moving(self._n)

    def IsOriginSignalOn(self) -> bool:  # noqa: N802
        return self._valid() and abs(self._hw.position(self._n)) < 1e-6

    def IsCwLimitSignalOn(self) -> bool:  # noqa: N802
        return self._valid() and self._hw.status(self._n) == "CwLimit"

    def IsCcwLimitSignalOn(self) -> bool:  # noqa: N802
        return self._valid() and self._hw.status(self._n) == "CcwLimit"

    def IsCwTorqueLimitOn(self) -> bool:  # noqa: N802
        return False

    def IsCcwTorqueLimitOn(self) -> bool:  # noqa: N802
        return False

    def IsOriginReturnSucceeded(self) -> bool:  # noqa: N802
        return True

    def _set(self, attr: str, value: float):
        if not self._valid() or not value > 0:
            return self._err("Parameter")
        with self._hw.lock:
            setattr(self._hw.axes[self._n], attr, float(value))
        return self._err("None")

    def SetMaxSpeed(self, speed: float):  # noqa: N802
        return self._set("max_speed", speed)

    def SetAccelRate(self, rate: float):  # noqa: N802
        return self._set("accel", rate)

    def SetDecelRate(self, rate: float):  # noqa: N802
        return self._set("decel", rate)

    def SetSineMotion(self, sineMotion: bool):  # noqa: N802, N803
        return self._err("None")

    def SetFulcrumSpan(self, span: float):  # noqa: N802
        return self._err("None")

    def SetEncoderStepLength(self, length: float):  # noqa: N802
        return self._err("None")

    def SetCWTorqueLimit(self, cWlimit: float):  # noqa: N802, N803
        return self._err("None")

    def SetCCWTorqueLimit(self, cCWlimit: float):  # noqa: N802, N803
        return self._err("None")

    def GetErrorCode(self):  # noqa: N802
        return self._err(self._hw.axes[self._n].error) if self._valid() else self._err("Parameter")

    def GetStatus(self):  # noqa: N802
        return self.Status[self._hw.status(self._n)] if self._valid() else self.Status.NotConnected


_COMMON_ALIGN = ("uint16 pmCh analogCh comparisonCount maxRepeatCount; bool pmAutoRangeUpOn pmInitRangeSettingOn;"
                 "int16 pmInitRange; float64 fieldSearchThreshold subAngleX subAngleY")


class Alignment:
    """`SurugaSeiki.Motion.Alignment([uint16 id])`: optical alignment (flat, focus, ...)."""

    AlignmentType = _enum("AlignmentType", "Single Flat Focus TwoChRotation MMFRotation LoopBack TwoChFlat")
    ErrorCode = _enum("ErrorCode", "None Axis Aligning Parameter")
    Status = _enum("Status", "Stopping Success Aligning FieldSearchRangeOver ProfileDataOver PeakSearchCountOver "
                             "PeakSearchRangeOver InvalidParameter ServoIsNotReady ServoIsAlarm StageOnLimit "
                             "VoltageLimit PMRangeLimit PMInitRangeChangeFail PMDisconnected "
                             "RotationAdjustmentFail InPositionFail TorqueLimit")
    AligningStatusCode = _enum("AligningStatusCode", "NotAligning Initializing FieldSearching PeakSearchingX "
                                                     "PeakSearchingY PeakSearchingZ PeakSearchXCh2 PeakSearchYCh2")
    ProfileDataType = _enum("ProfileDataType", "FieldSearch PeakSearchX PeakSearchY PeakSearchZ "
                                               "PeakSearchXCh2 PeakSearchYCh2")
    ZMode = _enum("ZMode", "Round ForwardPlus ForwardMinus")
    FlatParameter = _struct(
        "FlatParameter",
        _COMMON_ALIGN + "; uint16 mainStageNumberX mainStageNumberY subStageNumberXY;"
        "float64 peakSearchThreshold searchRangeX searchRangeY fieldSearchPitchX fieldSearchPitchY "
        "fieldSearchFirstPitchX fieldSearchSpeedX fieldSearchSpeedY peakSearchSpeedX peakSearchSpeedY "
        "centroidThresholdX centroidThresholdY convergentRangeX convergentRangeY; uint32 smoothingRangeX smoothingRangeY")
    FocusParameter = _struct(
        "FocusParameter",
        _COMMON_ALIGN + "; uint16 mainStageNumberX mainStageNumberY mainStageNumberZ subStageNumberXY;"
        "float64 peakSearchThresholdXY peakSearchThresholdZ searchRangeX searchRangeY searchRangeZ "
        "fieldSearchPitchX fieldSearchPitchY fieldSearchPitchZ fieldSearchFirstPitchX fieldSearchSpeedX "
        "fieldSearchSpeedY fieldSearchSpeedZ peakSearchSpeedX peakSearchSpeedY peakSearchSpeedZ "
        "centroidThresholdX centroidThresholdY centroidThresholdZ convergentRangeX convergentRangeY "
        "convergentRangeZ; uint32 smoothingRangeX smoothingRangeY smoothingRangeZ",
        {"zMode": ZMode})
    ProfileData = _struct("ProfileData", _PROFILE_DATA_SPEC)
    _hw: SimulatedHardware

    def __init__(self, id: int = 1) -> None:  # noqa: A002 - vendor name
        self._id = id
        self._run = _AlignmentRun(self._hw)
        self._param = None
        self._kind: str | None = None

    def _set(self, param, cls, kind: str):
        if not isinstance(param, cls):
            raise TypeError(f"Set{kind} takes {cls.__name__}")
        if self._run.busy:
            return self.ErrorCode.Aligning
        for n in ("mainStageNumberX", "mainStageNumberY") + (("mainStageNumberZ",) if kind == "Focus" else ()):
            if getattr(param, n) not in self._hw.axes:
                return self.ErrorCode.Parameter
        self._param, self._kind = param._copy(), kind
        return _none(self.ErrorCode)

    def SetFlat(self, parameter, rotationCenter=None):  # noqa: N802, N803
        return self._set(parameter, self.FlatParameter, "Flat")

    def SetFocus(self, parameter, rotationCenter=None):  # noqa: N802, N803
        return self._set(parameter, self.FocusParameter, "Focus")

    def _start(self, kind: str):
        if self._run.busy:
            return self.ErrorCode.Aligning
        if self._kind != kind:
            return self.ErrorCode.Parameter
        param, focus = self._param, kind == "Focus"
        self._run.launch(lambda: self._run.run_alignment(param, focus))
        return _none(self.ErrorCode)

    def StartFlat(self):  # noqa: N802
        return self._start("Flat")

    def StartFocus(self):  # noqa: N802
        return self._start("Focus")

    def Stop(self):  # noqa: N802
        self._run.stop_event.set()
        return _none(self.ErrorCode)

    def GetErrorCode(self):  # noqa: N802
        return _none(self.ErrorCode)

    def GetStatus(self):  # noqa: N802
        return self.Status[self._run.status]

    def GetErrorAxisID(self) -> int:  # noqa: N802
        return self._run.error_axis

    def GetAligningStatus(self):  # noqa: N802
        return self.AligningStatusCode[self._run.phase]

    def GetProfilePacketSumIndex(self, profileDataType) -> int:  # noqa: N802, N803
        if not isinstance(profileDataType, self.ProfileDataType):
            raise TypeError("GetProfilePacketSumIndex takes Alignment.ProfileDataType")
        return self._run.packet_count(profileDataType.name)

    def RequestProfileData(self, profileDataType, index: int, isRotationCenterShift: bool = False):  # noqa: N802, N803
        if not isinstance(profileDataType, self.ProfileDataType):
            raise TypeError("RequestProfileData takes Alignment.ProfileDataType")
        return self._run.packet(profileDataType.name, index, self.ProfileData)

    def GetPower(self, alignmentPMCh: int) -> float:  # noqa: N802, N803
        return self._hw.power_dbm()

    def GetVoltage(self, alignmentAInCh: int) -> float:  # noqa: N802, N803
        return self._hw.analog(alignmentAInCh)

    def SetMeasurementWaveLength(self, alignmentPMCh: int, waveLength: float):  # noqa: N802, N803
        self._hw.wavelength[alignmentPMCh] = float(waveLength)
        return _none(self.ErrorCode)

    def GetMeasurementWaveLength(self, alignmentPMCh: int) -> float:  # noqa: N802, N803
        return self._hw.wavelength.get(alignmentPMCh, 1310.0)


class AngleAdjustment:
    """`SurugaSeiki.Motion.AngleAdjustment(uint16 id)`: id 1 = left stage, 2 = right stage."""

    ErrorCode = _enum("ErrorCode", "None Axis Adjusting Parameter")
    Status = _enum("Status", "Stopping Success Adjusting ProfileDataOver InvalidParameter ServoIsNotReady "
                             "ServoIsAlarm StageOnLimit SignalLowerLimit CouldnotContact AdjustCountOver "
                             "AngleAdjustRnageOver LostContact")
    AdjustingStatus = _enum("AdjustingStatus", "NotAdjusting Initializing ContactingZ AdjustingTx AdjustingTy")
    ProfileDataType = _enum("ProfileDataType", "ContactZ AdjustmentTx AdjustmentTy")
    AngleAdjustmentParameter = _struct(
        "AngleAdjustmentParameter",
        "float64 gap signalLowerLimit lockUnlockDifference contactSearchRange contactSearchSpeed pushDistance "
        "angleSearchRangeTx angleSearchRangeTy angleSearchSpeedTx angleSearchSpeedTy angleConvergentRangeTx "
        "angleConvergentRangeTy; uint16 signalChNumber unlockDOutChNumber contactAxisNumber angleAxisNumberTx "
        "angleAxisNumberTy angleJudgeCountTx angleJudgeCountTy angleComparisonCount angleMaxCount;"
        "bool unlockDOutControlOn lockUnlockAdjustEnbale; uint32 contactSmoothing contactSensitivity "
        "angleSmoothingTx angleSmoothingTy angleSensitivityTx angleSensitivityTy")
    ProfileData = _struct("ProfileData", _PROFILE_DATA_SPEC)
    _hw: SimulatedHardware

    def __init__(self, id: int) -> None:  # noqa: A002
        self._id = id
        self._run = _AngleRun(self._hw)
        self._param = None

    def SetParameter(self, parameter, rotationCenter=None):  # noqa: N802, N803
        if not isinstance(parameter, self.AngleAdjustmentParameter):
            raise TypeError("SetParameter takes AngleAdjustmentParameter")
        if self._run.busy:
            return self.ErrorCode.Adjusting
        for n in (parameter.contactAxisNumber, parameter.angleAxisNumberTx, parameter.angleAxisNumberTy):
            if n not in self._hw.axes:
                return self.ErrorCode.Parameter
        self._param = parameter._copy()
        return _none(self.ErrorCode)

    def Start(self):  # noqa: N802
        if self._run.busy:
            return self.ErrorCode.Adjusting
        if self._param is None:
            return self.ErrorCode.Parameter
        param = self._param
        self._run.launch(lambda: self._run.run_adjustment(param))
        return _none(self.ErrorCode)

    def Stop(self):  # noqa: N802
        self._run.stop_event.set()
        return _none(self.ErrorCode)

    def GetStatus(self):  # noqa: N802
        return self.Status[self._run.status]

    def GetErrorAxisID(self) -> int:  # noqa: N802
        return self._run.error_axis

    def GetAdjustingStatus(self):  # noqa: N802
        return self.AdjustingStatus[self._run.phase]

    def GetProfilePacketSumIndex(self, profileDataType) -> int:  # noqa: N802, N803
        return self._run.packet_count(profileDataType.name)

    def RequestProfileData(self, profileDataType, index: int):  # noqa: N802, N803
        return self._run.packet(profileDataType.name, index, self.ProfileData)


class Profile:
    """`SurugaSeiki.Motion.Profile()`: scan an axis and record signals (packets of <= 1,000 points)."""

    ErrorCode = _enum("ErrorCode", "None Axis Profiling Parameter")
    Status = _enum("Status", "Stopping Success Profiling ProfileDataOver InvalidParameter ServoIsNotReady "
                             "ServoIsAlarm StageOnLimit TorqueLimit")
    ProfileParameter = _struct(
        "ProfileParameter",
        "uint16 mainAxisNumber sub1AxisNumber sub2AxisNumber signalCh1Number signalCh2Number;"
        "float64 mainRange sub1Range sub2Range speed accelRate decelRate; uint32 smoothing")
    ProfileData = _struct("ProfileData", _PROFILE_DATA_SPEC)
    _hw: SimulatedHardware

    def __init__(self) -> None:
        self._run = _ProfileRun(self._hw)
        self._run.running_status = "Profiling"
        self._param = None

    def SetProfile(self, parameter, rotationCenter=None):  # noqa: N802, N803
        if not isinstance(parameter, self.ProfileParameter):
            raise TypeError("SetProfile takes ProfileParameter")
        if self._run.busy:
            return self.ErrorCode.Profiling
        if parameter.mainAxisNumber not in self._hw.axes:
            return self.ErrorCode.Axis
        self._param = parameter._copy()
        return _none(self.ErrorCode)

    def Start(self):  # noqa: N802
        if self._run.busy:
            return self.ErrorCode.Profiling
        if self._param is None:
            return self.ErrorCode.Parameter
        param = self._param
        self._run.launch(lambda: self._run.run_profile(param))
        return _none(self.ErrorCode)

    def Stop(self):  # noqa: N802
        self._run.stop_event.set()
        return _none(self.ErrorCode)

    def GetProfileStatus(self):  # noqa: N802
        return self.Status[self._run.status]

    def GetProfilePacketSumIndex(self) -> int:  # noqa: N802
        return self._run.packet_count("Profile")

    def RequestProfileData(self, index: int, isRotationCenterShift: bool = False):  # noqa: N802, N803
        return self._run.packet("Profile", index, self.ProfileData)


class _Interpolated:
    """Shared behaviour of `Axis2D` and `Axis3D`: several axes moved along one straight line."""

    ErrorCode = AxisComponents.ErrorCode
    _hw: SimulatedHardware
    _axes: tuple[int, ...]

    def _init(self, numbers: tuple[int, ...]) -> None:
        for n in numbers:
            if isinstance(n, bool) or not isinstance(n, int):
                raise TypeError(f"{type(self).__name__}(uint16, ...)")
            if not 0 <= n <= 0xFFFF:
                raise OverflowError("value out of range for uint16")
        self._axes = numbers
        self._speed: float | None = None
        self._accel: float | None = None
        self._decel: float | None = None
        self._error = "None"

    def _err(self, name: str):
        self._error = name
        return AxisComponents.ErrorCode[name]

    def _move(self, targets: tuple[float, ...]):
        if len(set(self._axes)) != len(self._axes) or any(n not in self._hw.axes for n in self._axes):
            return self._err("Parameter")
        return self._err(self._hw.start_line(dict(zip(self._axes, map(float, targets))), self._speed,
                                             self._accel, self._decel))

    def _relative(self, distances: tuple[float, ...]):
        with self._hw.lock:
            if any(n not in self._hw.axes for n in self._axes):
                return self._err("Parameter")
            here = [self._hw.position(n) for n in self._axes]
            return self._move(tuple(h + float(d) for h, d in zip(here, distances)))

    def _positions(self, target: bool) -> list[float]:
        out = []
        with self._hw.lock:
            now = self._hw.now()   # one controller cycle: every axis latched at the same instant
            for n in self._axes:
                ax = self._hw.axes.get(n)
                if ax is None:
                    out.append(0.0)
                    continue
                self._hw._settle(ax)
                out.append((ax.move.target if ax.move else ax.pos) if target else self._hw.position(n, now))
        return out

    def GetAxisNumber(self) -> list[int]:  # noqa: N802
        return list(self._axes)

    def Stop(self):  # noqa: N802
        with self._hw.lock:
            now = self._hw.now()   # every axis starts braking in the same cycle: the path stays on the line
            for n in self._axes:
                if n in self._hw.axes:
                    self._hw.stop(n, now)
        return self._err("None" if self._hw.connected else "NotConnected")

    def IsMoving(self) -> bool:  # noqa: N802
        return any(self._hw.moving(n) for n in self._axes if n in self._hw.axes)

    def _set(self, attr: str, value: float):
        if not value > 0:
            return self._err("Parameter")
        setattr(self, attr, float(value))
        return self._err("None")

    def SetSpeed(self, speed: float):  # noqa: N802
        return self._set("_speed", speed)

    def SetAccelRate(self, rate: float):  # noqa: N802
        return self._set("_accel", rate)

    def SetDecelRate(self, rate: float):  # noqa: N802
        return self._set("_decel", rate)

    def GetErrorCode(self):  # noqa: N802
        return AxisComponents.ErrorCode[self._error]

    def GetStatus(self):  # noqa: N802
        """The most significant status among the axes (an alarm or servo-off wins over motion)."""
        order = ["NotConnected", "ServoAlarm", "ServoOff", "CwLimit", "CcwLimit", "Moving", "Stopping", "InPosition"]
        found = [self._hw.status(n) for n in self._axes if n in self._hw.axes] or ["NotConnected"]
        return AxisComponents.Status[min(found, key=lambda st: order.index(st) if st in order else 0)]


class Axis2D(_Interpolated):
    """`SurugaSeiki.Motion.Axis2D(uint16 main, uint16 sub)`: 2-axis linear interpolation."""

    Point = _struct("Point", "float64 X Y")

    def __init__(self, mainStageNumber: int, subStageNumber: int) -> None:  # noqa: N803
        self._init((mainStageNumber, subStageNumber))

    def SetAxisNumber(self, mainStageNumber: int, subStageNumber: int):  # noqa: N802, N803
        self._init((mainStageNumber, subStageNumber))
        return self._err("None")

    def MoveAbsolute(self, x, y=None):  # noqa: N802
        return self._move((x.X, x.Y) if y is None else (x, y))

    def MoveRelative(self, x, y=None):  # noqa: N802
        return self._relative((x.X, x.Y) if y is None else (x, y))

    def MoveAbsoluteAngle(self, mainTargetPosition: float, subAngle: float):  # noqa: N802, N803
        """Move `main` to its target while `sub` follows the line at `subAngle` degrees."""
        here = self._positions(False)
        d = float(mainTargetPosition) - here[0]
        return self._move((float(mainTargetPosition), here[1] + d * math.tan(math.radians(subAngle))))

    def MoveRelativeAngle(self, mainDistance: float, subAngle: float):  # noqa: N802, N803
        d = float(mainDistance)
        return self._relative((d, d * math.tan(math.radians(subAngle))))

    def _point(self, values: list[float]):
        p = self.Point()
        p.X, p.Y = values
        return p

    def GetTargetPosition(self):  # noqa: N802
        return self._point(self._positions(True))

    def GetActualPosition(self):  # noqa: N802
        return self._point(self._positions(False))


class Axis3D(_Interpolated):
    """`SurugaSeiki.Motion.Axis3D(uint16 x, uint16 y, uint16 z)`: 3-axis linear interpolation."""

    Point3D = _struct("Point3D", "float64 X Y Z")
    RotationCenter = _struct("RotationCenter", "uint16 mainStageNumberX mainStageNumberY mainStageNumberZ "
                                               "subStageNumberX subStageNumberY subStageNumberZ;"
                                               "float64 offsetX offsetY offsetZ")

    def __init__(self, mainStageNumberX: int, mainStageNumberY: int, mainStageNumberZ: int) -> None:  # noqa: N803
        self._init((mainStageNumberX, mainStageNumberY, mainStageNumberZ))
        self._rotation = (0.0, 0.0, 0.0)

    def SetAxisNumber(self, x: int, y: int, z: int):  # noqa: N802
        self._init((x, y, z))
        return self._err("None")

    def SetStageNumber(self, x: int, y: int, z: int):  # noqa: N802
        return self.SetAxisNumber(x, y, z)

    def SetSubStageNumber(self, x: int, y: int, z: int):  # noqa: N802
        return self._err("None")

    def SetRotationCenter(self, rotationOffsetX: float, rotationOffsetY: float,  # noqa: N802, N803
                          rotationOffsetZ: float):  # noqa: N803
        self._rotation = (float(rotationOffsetX), float(rotationOffsetY), float(rotationOffsetZ))
        return self._err("None")

    def _dout(self, args: tuple) -> tuple:
        """Trailing (dOutId, onDelay, offDelay): the output is on while the move runs."""
        if len(args) == 3:
            dout_id = int(args[0])
            if dout_id:
                self._hw.dout[dout_id] = True
        return args

    def MoveAbsolute(self, *args):  # noqa: N802
        return self._command(self._move, args)

    def MoveRelative(self, *args):  # noqa: N802
        return self._command(self._relative, args)

    def _command(self, move, args: tuple):
        """Both overloads of the vendor's moves: (Point3D, [dout...]) or (x, y, z, [dout...])."""
        if args and isinstance(args[0], _Struct):
            point, rest = args[0], args[1:]
            xyz = (point.X, point.Y, point.Z)
        else:
            xyz, rest = args[:3], args[3:]
        err = move(tuple(xyz))
        if str(err) == "None":
            self._dout(rest)
        return err

    def _point(self, values: list[float]):
        p = self.Point3D()
        p.X, p.Y, p.Z = values
        return p

    def GetTargetPosition(self):  # noqa: N802
        return self._point(self._positions(True))

    def GetActualPosition(self):  # noqa: N802
        return self._point(self._positions(False))


class IO:
    """`SurugaSeiki.Motion.IO()`: digital and analog ports (state lives in the controller, not the object)."""

    DigitalIOType = _enum("DigitalIOType", "Input Output")
    AnalogIOType = _enum("AnalogIOType", "Input Output")
    RepetitionCountForever = 0xFFFF
    _hw: SimulatedHardware

    def GetPortState(self, iOType, id: int) -> bool:  # noqa: N802, N803, A002
        if str(iOType) == "Output":
            return self._hw.dout.get(int(id), False)
        return self._hw.analog(5 if id == 1 else 6) > 0 if id in (1, 2) else False  # contact detected

    def SetPortState(self, id: int, portState: bool) -> None:  # noqa: N802, N803, A002
        self._hw.dout[int(id)] = bool(portState)

    def SetPulseOutput(self, id: int, delayTime: int, highWidth: int, lowWidth: int,  # noqa: N802, N803, A002
                       repetitionCount: int) -> None:  # noqa: N803
        self._hw.dout[int(id)] = False

    def GetAnalogValue(self, iOType, id: int) -> float:  # noqa: N802, N803, A002
        if str(iOType) == "Output":
            return self._hw.aout.get(int(id), 0.0)
        return self._hw.analog(int(id))

    def SetAnalogValue(self, id: int, setValue: float) -> None:  # noqa: N802, N803, A002
        self._hw.aout[int(id)] = float(setValue)


class PowerMeter:
    """`SurugaSeiki.Motion.PowerMeter()`: optical power in dBm at the current stage positions.

    The reading is clipped to the selected range's full scale (Auto follows the signal); a channel
    beyond `System.MaxPowerMeterChNumber` answers `ChannelOutOfRange` on setters and NaN on reads.
    """

    ErrorCode = _enum("ErrorCode", "None ChannelOutOfRange Invalid")
    AllowedRange = _enum("AllowedRange", [("Minus60", 0xFFC4), ("Minus50", 0xFFCE), ("Minus40", 0xFFD8),
                                          ("Minus30", 0xFFE2), ("Minus20", 0xFFEC), ("Minus10", 0xFFF6),
                                          ("Zero", 0), ("Plus10", 10), ("Plus20", 20), ("Auto", 0x7FFF),
                                          ("Invalid", 0x8000)])
    _FULL_SCALE = {"Minus60": -60, "Minus50": -50, "Minus40": -40, "Minus30": -30, "Minus20": -20,
                   "Minus10": -10, "Zero": 0, "Plus10": 10, "Plus20": 20}
    _hw: SimulatedHardware

    def _valid(self, ch: int) -> bool:
        return 1 <= int(ch) <= System.MaxPowerMeterChNumber

    def GetPower(self, ch: int) -> float:  # noqa: N802
        if not self._valid(ch):
            return math.nan
        dbm = self._hw.power_dbm()
        full = self._FULL_SCALE.get(self._hw.pm_range.get(int(ch), "Auto"))
        return dbm if full is None else min(dbm, full + 3.0)   # over range: the meter saturates

    def GetRange(self, ch: int):  # noqa: N802
        if not self._valid(ch):
            return self.AllowedRange.Invalid
        return self.AllowedRange[self._hw.pm_range.get(int(ch), "Auto")]

    def GetWavelength(self, ch: int) -> float:  # noqa: N802
        return self._hw.wavelength.get(int(ch), 1310.0) if self._valid(ch) else math.nan

    def SetRange(self, ch: int, range):  # noqa: N802, A002
        if not self._valid(ch):
            return self.ErrorCode.ChannelOutOfRange
        name = str(range)
        if name not in self._FULL_SCALE and name != "Auto":
            return self.ErrorCode.Invalid
        self._hw.pm_range[int(ch)] = name
        return _none(self.ErrorCode)

    def SetWaveLength(self, ch: int, waveLength: float):  # noqa: N802, N803
        if not self._valid(ch):
            return self.ErrorCode.ChannelOutOfRange
        if not 0 < float(waveLength) < 10000:
            return self.ErrorCode.Invalid
        self._hw.wavelength[int(ch)] = float(waveLength)
        return _none(self.ErrorCode)


_VENDOR_CLASSES = (System, AxisComponents, Axis2D, Axis3D, Alignment, AngleAdjustment, Profile, IO, PowerMeter)


def create(config: SimConfig | None = None, hardware: SimulatedHardware | None = None) -> types.SimpleNamespace:
    """A fresh `SurugaSeiki.Motion`-shaped namespace over its own simulated hardware.

    `ns.hardware` is the simulator itself (for tests: true peak, fault injection); the vendor API never has it.
    """
    hw = hardware or SimulatedHardware(config)
    ns = types.SimpleNamespace(hardware=hw)
    for cls in _VENDOR_CLASSES:
        setattr(ns, cls.__name__, type(cls.__name__, (cls,), {"_hw": hw, "__module__": __name__}))
    ns.System.Instance = ns.System(hw)
    return ns


_default = create()
for _cls in _VENDOR_CLASSES:
    globals()[_cls.__name__] = getattr(_default, _cls.__name__)
hardware = _default.hardware
