using System.Collections.Concurrent;
using System.Globalization;

namespace OrleansSessions.Benchmarks.Infrastructure;

/// <summary>
/// An incoming grain call filter that counts the calls each grain interface method receives while counting is on
/// (<see cref="Start"/> / <see cref="Stop"/>): how many grain calls, storage grain calls included (Orleans' memory
/// grain storage is a set of grains), one product call costs. Off, it passes each call on after one flag read.
/// </summary>
internal sealed class GrainCallCounter : IIncomingGrainCallFilter
{
    private static readonly ConcurrentDictionary<(string Interface, string Method), long> Counts = new();
    private static volatile bool s_counting;

    public static void Start()
    {
        Counts.Clear();
        s_counting = true;
    }

    public static Dictionary<string, long> Stop()
    {
        s_counting = false;
        return Counts.ToDictionary(p => $"{Short(p.Key.Interface)}.{p.Key.Method}", p => p.Value, StringComparer.Ordinal);
    }

    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (s_counting)
        {
            Counts.AddOrUpdate((context.InterfaceName, context.MethodName), 1, static (_, n) => n + 1);
        }
        return context.Invoke();
    }

    /// <summary>"Interface.Method x.xx" per <paramref name="calls"/> product calls, most frequent first.</summary>
    public static string PerCall(Dictionary<string, long> counts, long calls) => calls <= 0 ? "none counted" : string.Join(", ",
        counts.OrderByDescending(p => p.Value).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key} {p.Value / (double)calls:F2}")));

    private static string Short(string name)
    {
        var dot = name.LastIndexOf('.');
        return dot < 0 ? name : name[(dot + 1)..];
    }
}
