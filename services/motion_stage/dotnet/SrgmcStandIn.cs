// A small C# stand-in for the part of srgmc.dll (SurugaSeiki.Motion) that the bridge test drives:
// System (singleton, asynchronous connection), AxisComponents (moves, async Stop, servo, error codes),
// Axis2D/Axis3D (straight-line interpolation over the same axes), IO (ports) and PowerMeter (range, wavelength).
// Compiled by the test with `mcs -target:library -out:<tmp>/srgmc.dll SrgmcStandIn.cs`; never commit the DLL.
// Names, enum members and values follow the public API surface of srgmc.dll v1.3.3.0.
// Note: inside this namespace `System` is the vendor's class, so the BCL is spelled `global::System`.

namespace SurugaSeiki.Motion
{
    public class System
    {
        public enum ErrorCode { NoError = 0, ConnectionLost = 1, VersionError = 2, MaxNumberOfErrorCode = 3 }
        public const ushort MaxProfileNumber = 1;
        public const uint ProfileDataPacketMaxDataNumber = 1000;

        static readonly System instance = new System();
        public static System Instance { get { return instance; } }

        readonly global::System.Diagnostics.Stopwatch clock = global::System.Diagnostics.Stopwatch.StartNew();
        double connectAt = -1;

        internal double Now { get { return clock.Elapsed.TotalSeconds; } }
        public bool Connected { get { lock (this) { return connectAt >= 0 && Now >= connectAt; } } }
        public string DllVersion { get { return "1.3.3.0 (C# stand-in)"; } }
        public string SystemVersion { get { return "stand-in"; } }

        public void SetAddress(string addr) { lock (this) { connectAt = Now + 0.05; } }
        public void DisconnectAds() { lock (this) { connectAt = -1; } }
        public bool IsError() { return false; }
        public ErrorCode GetCurrentErrorCode() { return ErrorCode.NoError; }
        public bool IsEmergencyAsserted() { return false; }
    }

    public class AxisComponents
    {
        public enum ErrorCode { None = 0, ServoAlarm = 1, ServoOff = 2, Moving = 3, NotConnected = 4, Limit = 5,
                                Origin = 6, Parameter = 7, Torque = 8 }
        public enum Status { ServoAlarm = 0, ServoOff = 1, Stopping = 2, InPosition = 3, Moving = 4,
                             NotConnected = 5, CwLimit = 6, CcwLimit = 7, CwTorqueLimit = 8, CcwTorqueLimit = 9 }

        // shared hardware state per axis number, like the real controller
        class State
        {
            public double Pos, Start, Target, Speed = 1000, Decel = 1000, T0, StopT = -1, StopPos;
            public bool Moving, Servo;
            public ErrorCode Error = ErrorCode.None;
        }
        static readonly global::System.Collections.Generic.Dictionary<ushort, State> states =
            new global::System.Collections.Generic.Dictionary<ushort, State>();
        const double Limit = 5000;

        readonly ushort n;
        readonly State s;

        public AxisComponents(ushort axisNumberm)
        {
            n = axisNumberm;
            lock (states)
            {
                if (!states.TryGetValue(n, out s)) { s = new State(); states[n] = s; }
            }
        }

        static double Now { get { return System.Instance.Now; } }

        // constant-speed travel; after Stop(), decelerate at Decel until at rest
        void Update()
        {
            if (!s.Moving) return;
            double t = Now;
            double dir = s.Target >= s.Start ? 1 : -1;
            if (s.StopT < 0)
            {
                double p = s.Start + dir * s.Speed * (t - s.T0);
                if ((p - s.Target) * dir >= 0) { s.Pos = s.Target; s.Moving = false; }
                else s.Pos = p;
            }
            else
            {
                double tau = global::System.Math.Min(t - s.StopT, s.Speed / s.Decel);
                s.Pos = s.StopPos + dir * (s.Speed * tau - 0.5 * s.Decel * tau * tau);
                if (tau >= s.Speed / s.Decel) { s.Moving = false; s.StopT = -1; }
            }
        }

        ErrorCode Begin(double target)
        {
            lock (s)
            {
                Update();
                if (!System.Instance.Connected) return ErrorCode.NotConnected;
                if (!s.Servo) { s.Error = ErrorCode.ServoOff; return ErrorCode.ServoOff; }
                if (s.Moving) return ErrorCode.Moving;
                if (global::System.Math.Abs(target) > Limit) { s.Error = ErrorCode.Limit; return ErrorCode.Limit; }
                s.Start = s.Pos; s.Target = target; s.T0 = Now; s.StopT = -1; s.Moving = true;
                s.Error = ErrorCode.None;
                return ErrorCode.None;
            }
        }

        // several axes on one straight line: same start time, speeds and decelerations scaled by path share
        internal static ErrorCode StartLine(ushort[] axes, double[] targets, double speed)
        {
            var comps = new AxisComponents[axes.Length];
            double len = 0;
            for (int i = 0; i < axes.Length; i++)
            {
                comps[i] = new AxisComponents(axes[i]);
                lock (comps[i].s)
                {
                    comps[i].Update();
                    if (!System.Instance.Connected) return ErrorCode.NotConnected;
                    if (!comps[i].s.Servo) return ErrorCode.ServoOff;
                    if (comps[i].s.Moving) return ErrorCode.Moving;
                    if (global::System.Math.Abs(targets[i]) > Limit) return ErrorCode.Limit;
                    double d = targets[i] - comps[i].s.Pos;
                    len += d * d;
                }
            }
            len = global::System.Math.Sqrt(len);
            if (len == 0) return ErrorCode.None;
            double t0 = Now;
            for (int i = 0; i < axes.Length; i++)
            {
                State st = comps[i].s;
                lock (st)
                {
                    double share = global::System.Math.Abs(targets[i] - st.Pos) / len;
                    if (share == 0) continue;
                    st.Start = st.Pos; st.Target = targets[i]; st.T0 = t0; st.StopT = -1; st.Moving = true;
                    st.Speed = speed * share; st.Decel = 1000 * share; st.Error = ErrorCode.None;
                }
            }
            return ErrorCode.None;
        }

        public ErrorCode MoveAbsolute(double position) { return Begin(position); }
        public ErrorCode MoveRelative(double distance) { lock (s) { Update(); return Begin(s.Pos + distance); } }
        public ErrorCode ReturnOrigin() { return Begin(0); }

        public ErrorCode Stop()
        {
            lock (s)
            {
                Update();
                if (s.Moving && s.StopT < 0) { s.StopT = Now; s.StopPos = s.Pos; }
                return ErrorCode.None;
            }
        }

        public ErrorCode TurnOnServo() { lock (s) { s.Servo = true; return ErrorCode.None; } }
        public ErrorCode TurnOffServo() { lock (s) { Update(); s.Moving = false; s.Servo = false; return ErrorCode.None; } }
        public ErrorCode ResetError() { lock (s) { s.Error = ErrorCode.None; return ErrorCode.None; } }
        public double GetTargetPosition() { lock (s) { return s.Target; } }
        public double GetActualPosition() { lock (s) { Update(); return s.Pos; } }
        public bool IsServoOn() { lock (s) { return s.Servo; } }
        public bool IsServoAlarm() { return false; }
        public bool IsMoving() { lock (s) { Update(); return s.Moving; } }
        public ErrorCode SetMaxSpeed(double speed)
        {
            if (speed <= 0) return ErrorCode.Parameter;
            lock (s) { s.Speed = speed; return ErrorCode.None; }
        }
        public ErrorCode SetAccelRate(double rate) { return rate > 0 ? ErrorCode.None : ErrorCode.Parameter; }
        public ErrorCode SetDecelRate(double rate)
        {
            if (rate <= 0) return ErrorCode.Parameter;
            lock (s) { s.Decel = rate; return ErrorCode.None; }
        }
        public ErrorCode GetErrorCode() { lock (s) { return s.Error; } }

        public Status GetStatus()
        {
            lock (s)
            {
                Update();
                if (!System.Instance.Connected) return Status.NotConnected;
                if (!s.Servo) return Status.ServoOff;
                if (s.Moving) return s.StopT >= 0 ? Status.Stopping : Status.Moving;
                return Status.InPosition;
            }
        }
    }
    public class Axis2D
    {
        public struct Point { public double X; public double Y; }
        ushort[] axes;
        double speed = 1000;

        public Axis2D(ushort mainStageNumber, ushort subStageNumber) { axes = new[] { mainStageNumber, subStageNumber }; }
        public AxisComponents.ErrorCode SetAxisNumber(ushort main, ushort sub) { axes = new[] { main, sub }; return AxisComponents.ErrorCode.None; }
        public ushort[] GetAxisNumber() { return axes; }
        public AxisComponents.ErrorCode SetSpeed(double v) { if (v <= 0) return AxisComponents.ErrorCode.Parameter; speed = v; return AxisComponents.ErrorCode.None; }
        public AxisComponents.ErrorCode SetAccelRate(double r) { return AxisComponents.ErrorCode.None; }
        public AxisComponents.ErrorCode SetDecelRate(double r) { return AxisComponents.ErrorCode.None; }
        public AxisComponents.ErrorCode MoveAbsolute(double x, double y) { return AxisComponents.StartLine(axes, new[] { x, y }, speed); }
        public AxisComponents.ErrorCode MoveAbsolute(Point p) { return MoveAbsolute(p.X, p.Y); }
        public AxisComponents.ErrorCode MoveRelative(double dx, double dy)
        {
            Point p = GetActualPosition();
            return MoveAbsolute(p.X + dx, p.Y + dy);
        }
        public AxisComponents.ErrorCode MoveRelative(Point d) { return MoveRelative(d.X, d.Y); }
        public AxisComponents.ErrorCode Stop() { foreach (var n in axes) new AxisComponents(n).Stop(); return AxisComponents.ErrorCode.None; }
        public bool IsMoving() { foreach (var n in axes) if (new AxisComponents(n).IsMoving()) return true; return false; }
        public Point GetActualPosition() { return new Point { X = new AxisComponents(axes[0]).GetActualPosition(), Y = new AxisComponents(axes[1]).GetActualPosition() }; }
        public Point GetTargetPosition() { return new Point { X = new AxisComponents(axes[0]).GetTargetPosition(), Y = new AxisComponents(axes[1]).GetTargetPosition() }; }
        public AxisComponents.ErrorCode GetErrorCode() { return new AxisComponents(axes[0]).GetErrorCode(); }
        public AxisComponents.Status GetStatus() { return new AxisComponents(axes[0]).GetStatus(); }
    }

    public class Axis3D
    {
        public struct Point3D { public double X; public double Y; public double Z; }
        public struct RotationCenter
        {
            public ushort mainStageNumberX, mainStageNumberY, mainStageNumberZ, subStageNumberX, subStageNumberY, subStageNumberZ;
            public double offsetX, offsetY, offsetZ;
        }
        ushort[] axes;
        double speed = 1000;

        public Axis3D(ushort x, ushort y, ushort z) { axes = new[] { x, y, z }; }
        public ushort[] GetAxisNumber() { return axes; }
        public AxisComponents.ErrorCode SetSpeed(double v) { if (v <= 0) return AxisComponents.ErrorCode.Parameter; speed = v; return AxisComponents.ErrorCode.None; }
        public AxisComponents.ErrorCode SetRotationCenter(double dx, double dy, double dz) { return AxisComponents.ErrorCode.None; }
        public AxisComponents.ErrorCode MoveAbsolute(double x, double y, double z) { return AxisComponents.StartLine(axes, new[] { x, y, z }, speed); }
        public AxisComponents.ErrorCode MoveAbsolute(Point3D p) { return MoveAbsolute(p.X, p.Y, p.Z); }
        public AxisComponents.ErrorCode MoveRelative(double dx, double dy, double dz)
        {
            Point3D p = GetActualPosition();
            return MoveAbsolute(p.X + dx, p.Y + dy, p.Z + dz);
        }
        public AxisComponents.ErrorCode Stop() { foreach (var n in axes) new AxisComponents(n).Stop(); return AxisComponents.ErrorCode.None; }
        public bool IsMoving() { foreach (var n in axes) if (new AxisComponents(n).IsMoving()) return true; return false; }
        public Point3D GetActualPosition()
        {
            return new Point3D { X = new AxisComponents(axes[0]).GetActualPosition(), Y = new AxisComponents(axes[1]).GetActualPosition(),
                                 Z = new AxisComponents(axes[2]).GetActualPosition() };
        }
        public AxisComponents.Status GetStatus() { return new AxisComponents(axes[0]).GetStatus(); }
    }

    public class IO
    {
        public enum DigitalIOType { Input = 0, Output = 1 }
        public enum AnalogIOType { Input = 0, Output = 1 }
        static readonly global::System.Collections.Generic.Dictionary<ushort, bool> outputs =
            new global::System.Collections.Generic.Dictionary<ushort, bool>();

        public bool GetPortState(DigitalIOType type, ushort id)
        {
            lock (outputs) { bool v; return type == DigitalIOType.Output && outputs.TryGetValue(id, out v) && v; }
        }
        public void SetPortState(ushort id, bool state) { lock (outputs) { outputs[id] = state; } }
        public double GetAnalogValue(AnalogIOType type, ushort id) { return 0.125 * id; }
        public void SetAnalogValue(ushort id, double value) { }
    }

    public class PowerMeter
    {
        public enum ErrorCode { None = 0, ChannelOutOfRange = 1, Invalid = 2 }
        public enum AllowedRange : ushort { Minus60 = 0xFFC4, Minus50 = 0xFFCE, Minus40 = 0xFFD8, Minus30 = 0xFFE2,
                                            Minus20 = 0xFFEC, Minus10 = 0xFFF6, Zero = 0, Plus10 = 0xA, Plus20 = 0x14,
                                            Auto = 0x7FFF, Invalid = 0x8000 }
        static readonly AllowedRange[] ranges = { AllowedRange.Auto, AllowedRange.Auto, AllowedRange.Auto };
        static readonly double[] wavelengths = { 1310, 1310, 1310 };

        // a beam centred on axis 1 = 0: -3 dBm there, falling off with the distance
        public double GetPower(ushort ch)
        {
            double x = new AxisComponents(1).GetActualPosition();
            return ch >= 1 && ch <= 2 ? -3.0 - 0.01 * x * x : double.NaN;
        }
        public AllowedRange GetRange(ushort ch) { return ch >= 1 && ch <= 2 ? ranges[ch] : AllowedRange.Invalid; }
        public double GetWavelength(ushort ch) { return ch >= 1 && ch <= 2 ? wavelengths[ch] : double.NaN; }
        public ErrorCode SetRange(ushort ch, AllowedRange range)
        {
            if (ch < 1 || ch > 2) return ErrorCode.ChannelOutOfRange;
            if (range == AllowedRange.Invalid) return ErrorCode.Invalid;
            ranges[ch] = range; return ErrorCode.None;
        }
        public ErrorCode SetWaveLength(ushort ch, double nm)
        {
            if (ch < 1 || ch > 2) return ErrorCode.ChannelOutOfRange;
            wavelengths[ch] = nm; return ErrorCode.None;
        }
    }
}
