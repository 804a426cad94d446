using System.Globalization;

namespace OrleansSessions.Benchmarks.Infrastructure;

/// <summary>CPU time (user + system) of a process from /proc/&lt;pid&gt;/stat, to tell where the cycles of a run went.</summary>
internal static class CpuTime
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux

    public static TimeSpan Of(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            // Fields after the command name, which is in parentheses and may contain spaces.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var utime = long.Parse(fields[11], CultureInfo.InvariantCulture);
            var stime = long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds((utime + stime) / TicksPerSecond);
        }
        catch (Exception ex) when (ex is IOException or FormatException or IndexOutOfRangeException)
        {
            return TimeSpan.Zero;
        }
    }

    public static TimeSpan Self() => Of(Environment.ProcessId);
}
