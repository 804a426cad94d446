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

    /// <summary>The summed CPU time of every process whose command name is <paramref name="name"/> (e.g. all postgres backends).</summary>
    public static TimeSpan OfAll(string name)
    {
        var total = TimeSpan.Zero;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            var last = Path.GetFileName(directory);
            if (!int.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }
            try
            {
                if (string.Equals(File.ReadAllText(Path.Combine(directory, "comm")).Trim(), name, StringComparison.Ordinal))
                {
                    total += Of(pid);
                }
            }
            catch (IOException)
            {
                // The process exited meanwhile.
            }
        }
        return total;
    }
}
