using System.Diagnostics;
using OrleansSessions.Runtime.Storage;
using OrleansSessions.Serialization;
using OrleansSessions.Sessions;

namespace OrleansSessions.Benchmarks;

internal static class Micro
{
    public static void Run()
    {
        var info = new SessionInfo { SessionId = "sess_" + Guid.NewGuid().ToString("D"), UserId = "user-1", CreatedAt = DateTimeOffset.UtcNow, LastActivity = DateTimeOffset.UtcNow, ExpiresAt = DateTimeOffset.UtcNow };
        Time("serialize SessionInfo", 2_000_000, () => CodecRegistry.Serialize(info));
        var storage = new MemoryGrainStorage();
        var id = new GrainId(1, info.SessionId);
        var data = CodecRegistry.Serialize(info);
        string? etag = null;
        Time("memory storage write", 2_000_000, () => etag = storage.WriteAsync("s", id, data, etag, CancellationToken.None).Result);
        Time("utcnow", 5_000_000, () => _ = DateTimeOffset.UtcNow);
    }

    private static void Time(string name, int n, Action action)
    {
        for (var i = 0; i < 10000; i++) action();
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < n; i++) action();
        Console.WriteLine($"{name}: {sw.Elapsed.TotalNanoseconds / n:F0} ns");
    }
}
