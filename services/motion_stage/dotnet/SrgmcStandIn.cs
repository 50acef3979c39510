// A small C# stand-in for the part of srgmc.dll (SurugaSeiki.Motion) that the bridge test drives:
// System (singleton, asynchronous connection), AxisComponents (moves, async Stop, servo, error codes).
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
}
