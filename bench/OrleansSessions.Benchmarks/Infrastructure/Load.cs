namespace OrleansSessions.Benchmarks.Infrastructure;

/// <summary>The machine's load average (other developers share it), recorded with every result.</summary>
internal static class Load
{
    public static string Average()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return $"{parts[0]} {parts[1]} {parts[2]}";
        }
        catch (IOException)
        {
            return "n/a";
        }
    }
}
