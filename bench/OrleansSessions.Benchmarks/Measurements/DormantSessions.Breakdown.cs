using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.Streams;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Grains;
using OrleansSessions.Grains.Options;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Sessions;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// What a dormant session leaves in the heap on the memory default, measured differentially after the expiry part in a
/// new silo on the memory default (so that nothing of the measured silo, such as its memory stream's cache purging
/// events, moves the heap meanwhile): N rows written straight into a new <see cref="InMemorySessionDeadlineIndex"/>,
/// N created events appended to a new <see cref="InMemorySessionEventLog"/>, and N copies of a dormant session's
/// stored state and of its user's stored state written straight through the silo's memory grain storage under
/// made-up keys. Each copy is
/// deserialized from the stored template, so it holds strings of its own; the real structures share some strings
/// (the session id of the index row and the stored state, for one), so the parts may add up to a little more than
/// what they cost together. Besides, from the lifecycle part: Orleans' memory stream's share (a copy of the created
/// event per session) and what Orleans keeps of a bare grain activated once and collected (twice: the session and its
/// user). The rest is what the parts do not explain (the janitor's queue, ...).
/// </summary>
internal static partial class DormantSessions
{
    /// <summary>What the breakdown takes from the lifecycle part on the memory default.</summary>
    private sealed record BreakdownInput(Templates Templates, double PerSession, double StreamShare, double OrleansShare, string Prefix);

    private sealed record Templates(byte[] Session, byte[] User, byte[] Info, int Outbox, int SessionBytes, int UserBytes, int ActiveIds, int History);

    /// <summary>A dormant session's stored state, its user's, and its SessionInfo, serialized (Orleans serializer) as templates for the copies.</summary>
    private static async Task<Templates> ReadTemplatesAsync(InProcessSilo silo, SessionInfo info)
    {
        var storage = silo.Services.GetRequiredKeyedService<IGrainStorage>(SessionStorage.Name);
        var serializer = silo.Services.GetRequiredService<Serializer>();
        // The memory storage's own serializer (the silo host's: Orleans' binary serializer), else the silo's default.
        var grainSerializer = silo.Services.GetRequiredService<IOptionsMonitor<MemoryGrainStorageOptions>>().Get(SessionStorage.Name).GrainStorageSerializer
            ?? silo.Services.GetRequiredService<IGrainStorageSerializer>();
        var session = new GrainState<SessionState>(new SessionState());
        await storage.ReadStateAsync(SessionStorage.SessionStateName, silo.Client.GetGrain<ISessionGrain>(info.SessionId).GetGrainId(), session);
        var user = new GrainState<UserSessionsState>(new UserSessionsState());
        await storage.ReadStateAsync(SessionStorage.UserStateName, silo.Client.GetGrain<IUserSessionsGrain>(info.UserId).GetGrainId(), user);
        var sessionState = session.State ?? throw new InvalidOperationException($"no stored state for {info.SessionId}");
        var userState = user.State ?? throw new InvalidOperationException($"no stored state for {info.UserId}");
        return new Templates(serializer.SerializeToArray(sessionState), serializer.SerializeToArray(userState), serializer.SerializeToArray(info),
            sessionState.Outbox?.Count ?? 0, grainSerializer.Serialize(sessionState).ToMemory().Length, grainSerializer.Serialize(userState).ToMemory().Length,
            userState.ActiveSessionIds.Count, userState.History.Count);
    }

    private static async Task BreakdownAsync(Settings settings, BreakdownInput input)
    {
        var (templates, perSession, streamShare, orleansShare, prefix) = input;
        var count = settings.Count;
        await using var silo = await InProcessSilo.StartAsync(Config(settings.DormantAfter, settings.Warning), clusterId: "dormantbreakdown");
        await Task.Delay(TimeSpan.FromSeconds(1));
        var client = silo.Client;
        var storage = silo.Services.GetRequiredKeyedService<IGrainStorage>(SessionStorage.Name);
        var serializer = silo.Services.GetRequiredService<Serializer>();
        var partitions = silo.Services.GetRequiredService<IOptions<JanitorOptions>>().Value.Partitions;

        var row = await HeapOfAsync(count, async () =>
        {
            var index = new InMemorySessionDeadlineIndex();
            var at = DateTimeOffset.UtcNow;
            for (var i = 0; i < count; i++)
            {
                var id = SessionKeys.NewSessionId();
                await index.UpsertAsync(id, "dor-" + Key(i), at + TimeSpan.FromMilliseconds(i), SessionDeadlinePartitioner.GetPartition(id, partitions));
            }
            return index;
        });
        var logged = await HeapOfAsync(count, async () =>
        {
            var log = new InMemorySessionEventLog(int.MaxValue);
            for (var i = 0; i < count; i++)
            {
                var copy = serializer.Deserialize<SessionInfo>(templates.Info) ?? throw new InvalidOperationException("empty SessionInfo template");
                var info = copy with { SessionId = SessionKeys.NewSessionId() };
                await log.AppendAsync(SessionDeadlinePartitioner.GetPartition(info.SessionId, partitions), 1,
                    new SessionEvent { Type = SessionEventType.Created, Session = info, At = info.CreatedAt });
            }
            return log;
        });
        var storedSession = await HeapOfAsync(count, async () =>
        {
            await Loops.ForEachAsync(count, Concurrency, i => storage.WriteStateAsync(SessionStorage.SessionStateName,
                client.GetGrain<ISessionGrain>(SessionKeys.NewSessionId()).GetGrainId(), new GrainState<SessionState>(serializer.Deserialize<SessionState>(templates.Session))));
            return storage;
        });
        var storedUser = await HeapOfAsync(count, async () =>
        {
            await Loops.ForEachAsync(count, Concurrency, i => storage.WriteStateAsync(SessionStorage.UserStateName,
                client.GetGrain<IUserSessionsGrain>("bdu-" + Key(i)).GetGrainId(), new GrainState<UserSessionsState>(serializer.Deserialize<UserSessionsState>(templates.User))));
            return storage;
        });
        var rest = perSession - row - logged - storedSession - storedUser - streamShare - orleansShare;
        var load = Load.Average();

        var note = string.Create(CultureInfo.InvariantCulture,
            $"what a dormant session ({perSession:F0} B on the memory default) leaves, measured after the expiry part in a new silo on the memory default (nothing of the measured silo moves the heap meanwhile), each part as the heap after three full blocking compacting collections before and after writing {count} of them, / {count}: a deadline index row (InMemorySessionDeadlineIndex, new instance) {row:F0} B; a created event in the in-memory event log (InMemorySessionEventLog, new instance; the log keeps up to Events:MemoryLimit events per partition, and the created event of each session is in it until trimmed) {logged:F0} B; the session's stored state in the memory grain storage {storedSession:F0} B (the dormant session's record: {templates.SessionBytes} B as the memory storage serializes it, {templates.Outbox} event(s) in its stored outbox); its user's stored state {storedUser:F0} B ({templates.UserBytes} B serialized, {templates.ActiveIds} live id(s), {templates.History} in history); its created event in Orleans' memory stream cache {streamShare:F0} B (dormant.memory.heap.streamCache); what Orleans keeps of two grains activated once and collected (the session and its user; twice dormant.memory.heap.bareCollected) {orleansShare:F0} B; the rest (the janitor's queue, differences between the real records and the copies, anything else) {rest:F0} B. Each copy is deserialized from the dormant session's own records, so the index row and the logged event hold strings of their own where the real ones may share some with other structures: the parts may add up to a little more than the whole; load {load}");
        ResultSink.Add(new BenchResult { Target = $"{prefix}.heap.deadlineRow@{count}", Value = row, Unit = "bytes", Note = note });
        ResultSink.Add(new BenchResult { Target = $"{prefix}.heap.loggedEvent@{count}", Value = logged, Unit = "bytes" });
        ResultSink.Add(new BenchResult { Target = $"{prefix}.heap.storedSession@{count}", Value = storedSession, Unit = "bytes" });
        ResultSink.Add(new BenchResult { Target = $"{prefix}.heap.storedUser@{count}", Value = storedUser, Unit = "bytes" });
        ResultSink.Add(new BenchResult { Target = $"{prefix}.heap.rest@{count}", Value = rest, Unit = "bytes" });
    }

    /// <summary>
    /// Publishes <paramref name="count"/> created events (copies of <paramref name="sample"/>'s with ids of their own) on a
    /// stream of the sessions' stream provider that nobody reads, 64 outstanding (a publish the queue refuses is tried
    /// again 20 ms later), and returns the heap they hold 3 s after the last one, per event; null when it cannot be done
    /// before <paramref name="notAfter"/> (estimated at 20,000 publishes a second plus 10 s).
    /// </summary>
    private static async Task<(double Bytes, long Refused)?> StreamShareAsync(InProcessSilo silo, SessionInfo sample, int count, DateTimeOffset notAfter)
    {
        if (DateTimeOffset.UtcNow + TimeSpan.FromSeconds(10 + count / 20_000.0) > notAfter)
        {
            return null;
        }
        var stream = silo.Services.GetRequiredKeyedService<IStreamProvider>(SessionStreams.ProviderName).GetStream<SessionEvent>(SessionStreams.Namespace, "bench-heap");
        var serializer = silo.Services.GetRequiredService<Serializer>();
        var template = serializer.SerializeToArray(sample);
        var refused = 0L;
        var before = HeapPerSession.Heap();
        await Loops.ForEachAsync(count, Concurrency, async i =>
        {
            var copy = serializer.Deserialize<SessionInfo>(template) ?? throw new InvalidOperationException("empty SessionInfo template");
            var info = copy with { SessionId = SessionKeys.NewSessionId() };
            var sessionEvent = new SessionEvent { Type = SessionEventType.Created, Session = info, At = info.CreatedAt };
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await stream.OnNextAsync(sessionEvent);
                    return;
                }
                catch (Exception) when (attempt < 100)
                {
                    Interlocked.Increment(ref refused);
                    await Task.Delay(20);
                }
            }
        });
        await Task.Delay(TimeSpan.FromSeconds(3));
        var after = HeapPerSession.Heap();
        return ((after - before) / (double)count, refused);
    }

    private static string DescribeStreamShare((double Bytes, long Refused)? share, int count) => share is { } s
        ? string.Create(CultureInfo.InvariantCulture, $"Orleans' memory stream holds {s.Bytes:F0} B per session event (measured after the heap: {count} created events published on a stream of the same provider that nobody reads, {s.Refused} publishes refused by its queue and retried, the heap 3 s after the last one; its queue cache keeps events for 5 min by default, so each dormant session's created event is in that figure)")
        : "the memory stream's share not measured (too close to the first warning point)";

    /// <summary>The heap that what <paramref name="fill"/> builds (and keeps reachable) takes, per one of <paramref name="count"/>.</summary>
    private static async Task<double> HeapOfAsync(int count, Func<Task<object>> fill)
    {
        var before = HeapPerSession.Heap();
        var held = await fill();
        var after = HeapPerSession.Heap();
        GC.KeepAlive(held);
        return (after - before) / (double)count;
    }
}
