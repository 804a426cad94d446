using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Storage;
using OrleansSessions.Benchmarks.Bare;
using OrleansSessions.Benchmarks.Infrastructure;
using OrleansSessions.Grains;
using OrleansSessions.Sessions;
using StackExchange.Redis;

namespace OrleansSessions.Benchmarks.Measurements;

/// <summary>
/// The append step: the session's conversation. One chat turn = one <see cref="ISessionGrain.AppendMessagesAsync"/> with
/// two messages (the user's and the reply, about 100 bytes each), which also touches the session. Parts, one process,
/// each beside its floor in the same run (--parts, default all, in this order):
/// <list type="bullet">
/// <item>memory: heap per idle live session holding 20 messages of 200 bytes, beside plain sessions and the bare floors in the same silo;</item>
/// <item>inproc: append in-process at 64 outstanding beside the bare one-field write through the same memory storage;
/// then append on sessions of 10 and of 190 stored messages, in alternating rounds;</item>
/// <item>network: append over the gateway of a silo host process at 1, 64 and 1,024 outstanding beside an RPUSH +
/// LTRIM + EXPIRE pipeline per turn in Redis (<see cref="RedisChatPipeline"/>) and the bare write over the gateway;</item>
/// <item>durable: append on PostgreSQL (in-process silo, UseOrleansSessionsPostgreSql) beside a raw single-row INSERT loop;</item>
/// <item>redis: append on the durable Redis (UseOrleansSessionsRedis) beside the same Redis pipeline on that server.</item>
/// </list>
/// </summary>
internal static class AppendThroughput
{
    private const string Sentence = "Could you tell me how to move my booking to next Tuesday, and whether the fee still applies? ";

    public static async Task RunAsync(Args args)
    {
        var parts = args.Get("parts", "memory,inproc,network,durable,redis").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        var steps = new (string Name, Func<Args, Task> Run)[]
        {
            ("memory", MemoryAsync), ("inproc", InProcessAsync), ("network", NetworkAsync), ("durable", PostgresAsync), ("redis", RedisAsync),
        };
        foreach (var (name, run) in steps.Where(s => parts.Contains(s.Name)))
        {
            var started = Stopwatch.StartNew();
            Console.WriteLine($"  append {name}: starting (load {Load.Average()})");
            await run(args);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  append {name}: done in {started.Elapsed.TotalSeconds:F0}s"));
        }
    }

    /// <summary>A chat turn: the user's message and the reply, each <paramref name="bytes"/> ASCII characters.</summary>
    internal static IReadOnlyList<NewSessionMessage> Turn(int bytes) => [new(MessageRoles.User, Text(bytes, 0)), new(MessageRoles.Assistant, Text(bytes, 7))];

    private static string Text(int bytes, int offset)
    {
        var text = string.Concat(Enumerable.Repeat(Sentence, bytes / Sentence.Length + 2));
        return text.Substring(offset, bytes);
    }

    // ---------------------------------------------------------------- memory

    private static async Task MemoryAsync(Args args)
    {
        var count = args.Int("memory-sessions", 10_000);
        var messages = args.Int("memory-messages", 20);
        var bytes = args.Int("memory-message-bytes", 200);
        const int Concurrency = 64;
        var turn = Turn(bytes);
        var turns = messages / 2;

        await using var silo = await InProcessSilo.StartAsync(clusterId: "appendmemory");
        var client = silo.Client;
        // Warm-up of every path measured (JIT, the storage grains), then collected.
        var warm = await CreateAsync(client, "warm-", 2_000, Concurrency);
        await Loops.ForEachAsync(2_000 * turns, Concurrency, k => warm[k % warm.Length].AppendMessagesAsync(turn));
        await Loops.ForEachAsync(2_000, Concurrency, i => warm[i].GetMessagesAsync(messages));
        await Loops.ForEachAsync(2_000, Concurrency, i => client.GetGrain<IBareGrain>("warm-" + Key(i)).WriteAsync());
        await silo.CollectIdleAsync(TimeSpan.Zero);

        // Plain live sessions (no data), as the memory step: the share of the session itself.
        var before = HeapPerSession.Heap();
        await CreateAsync(client, "plain-", count, Concurrency);
        await IdleAsync(silo);
        var afterPlain = HeapPerSession.Heap();

        // Sessions holding `messages` messages, appended turn by turn and never read: the records are in the storage.
        var data = await CreateAsync(client, "data-", count, Concurrency);
        var appendRate = await Loops.ForEachAsync(count * turns, Concurrency, k => data[k % count].AppendMessagesAsync(turn));
        await IdleAsync(silo);
        var afterData = HeapPerSession.Heap();

        // The same, each read once afterwards (the last `messages`, as a chat router reading its context would): the
        // activation then also holds the messages it read.
        var readCount = Math.Max(1, count / 4);
        var read = await CreateAsync(client, "read-", readCount, Concurrency);
        await Loops.ForEachAsync(readCount * turns, Concurrency, k => read[k % readCount].AppendMessagesAsync(turn));
        await Loops.ForEachAsync(readCount, Concurrency, i => read[i].GetMessagesAsync(messages));
        await IdleAsync(silo);
        var afterRead = HeapPerSession.Heap();
        var activations = await silo.ActivationCountAsync();
        var sample = await data[count / 2].GetAsync();
        var load = Load.Average();

        // The share of the storage: the same message records (`turns` of two messages per session) written straight
        // through the silo's grain storage for as many made-up sessions, no session grain; and one record's stored size.
        var storage = silo.Services.GetRequiredKeyedService<IGrainStorage>(SessionStorage.Name);
        var serializer = silo.Services.GetRequiredService<IGrainStorageSerializer>();
        var record = new SessionMessageChunk { Messages = [.. turn.Select((m, i) => new SessionMessage(i + 1, m.Role, m.Content, DateTimeOffset.UtcNow))] };
        var recordBytes = serializer.Serialize(record).ToMemory().Length;
        var recordsBefore = HeapPerSession.Heap();
        await Loops.ForEachAsync(count * turns, Concurrency, k => storage.WriteStateAsync(SessionStorage.MessagesStateName,
            SessionDataRecords.MessagesId("records-" + Key(k % count), 1 + 2 * (k / count)), new GrainState<SessionMessageChunk>(record)));
        var recordsAlone = (HeapPerSession.Heap() - recordsBefore) / (double)count;

        var noopBefore = HeapPerSession.Heap();
        await Loops.ForEachAsync(count, Concurrency, i => client.GetGrain<IBareGrain>("noop-" + Key(i)).PingAsync());
        var bareNoop = (HeapPerSession.Heap() - noopBefore) / (double)count;
        var writeBefore = HeapPerSession.Heap();
        await Loops.ForEachAsync(count, Concurrency, i => client.GetGrain<IBareGrain>("write-" + Key(i)).WriteAsync());
        var bareWrite = (HeapPerSession.Heap() - writeBefore) / (double)count;

        var plain = (afterPlain - before) / (double)count;
        var withData = (afterData - afterPlain) / (double)count;
        var withRead = (afterRead - afterData) / (double)readCount;
        var contentBytes = messages * bytes;
        ResultSink.Add(new BenchResult
        {
            Target = $"append.memory.heapPerSession.{messages}messages@{count}",
            Value = withData,
            Unit = "bytes",
            Baseline = "bare grain activation with one field stored, same silo",
            BaselineValue = bareWrite,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"in-process silo, Orleans memory grain storage: {count} idle live sessions, each holding {messages} messages of {bytes} bytes ({contentBytes} bytes of content; appended as {turns} turns of two, at {appendRate:N0} turns/s; sample session: messageCount {sample.MessageCount}, dataVersion {sample.DataVersion}) and never read, after ForceActivationCollection(0) ({activations} activations at the end): {withData:F0} B per session, {withData - plain:F0} B more than a plain live session ({plain:F0} B, same silo), {(withData - plain) / contentBytes:F2} B of heap per byte of content; the same {turns} records per session written straight through the grain storage (no session): {recordsAlone:F0} B per session, one record of two {bytes}-byte messages {recordBytes} B as {serializer.GetType().Name} writes it; {readCount} more such sessions, each read once afterwards (GetMessagesAsync({messages}), the activation then holds them too): {withRead:F0} B; floors in the same silo: bare grain activation {bareNoop:F0} B, with one field stored {bareWrite:F0} B; load {load}"),
        });
        ResultSink.Add(new BenchResult
        {
            Target = $"append.memory.heapPerSession.{messages}messagesRead@{count}",
            Value = withRead,
            Unit = "bytes",
            Baseline = $"sessions never read (append.memory.heapPerSession.{messages}messages)",
            BaselineValue = withData,
            Note = $"{readCount} more sessions with {messages} messages, each read once with GetMessagesAsync({messages}) after its appends (as a chat router reading its context would): the activation keeps what it read",
        });
        ResultSink.Add(new BenchResult
        {
            Target = $"append.memory.recordsAlone.{messages}messages@{count}",
            Value = recordsAlone,
            Unit = "bytes",
            Note = string.Create(CultureInfo.InvariantCulture,
                $"the storage's share: {turns} message records of two {bytes}-byte messages per made-up session written straight through the memory grain storage \"OrleansSessions\" (IGrainStorage.WriteStateAsync, no session grain), heap per session; one record serialized by {serializer.GetType().FullName}: {recordBytes} B"),
        });
        ResultSink.Add(new BenchResult
        {
            Target = $"append.memory.heapPerSession.plain@{count}",
            Value = plain,
            Unit = "bytes",
            Baseline = "bare grain activation with one field stored, same silo",
            BaselineValue = bareWrite,
            Note = "live sessions without data, created in the same silo just before (as the memory step measures them)",
        });
        ResultSink.Add(new BenchResult
        {
            Target = $"append.memory.bare.activation@{count}",
            Value = bareNoop,
            Unit = "bytes",
            Note = "floor: per bare grain activated by a no-op call, same silo",
        });
        ResultSink.Add(new BenchResult
        {
            Target = $"append.memory.bare.activationWithState@{count}",
            Value = bareWrite,
            Unit = "bytes",
            Note = "floor: per bare grain activation that wrote one field to the memory grain storage \"OrleansSessions\", same silo",
        });
    }

    /// <summary>Lets notices land, collects the idle activations that may go (the users'), and lets the collection settle.</summary>
    private static async Task IdleAsync(InProcessSilo silo)
    {
        await Task.Delay(500);
        await silo.CollectIdleAsync(TimeSpan.Zero);
        await Task.Delay(500);
    }

    // ---------------------------------------------------------------- inproc

    private static async Task InProcessAsync(Args args)
    {
        var sessions = args.Int("sessions", 10_000);
        var depth = args.Int("depth", 64);
        var duration = args.Seconds("seconds", 5);
        var warmup = args.Seconds("warmup-seconds", 2);
        var pairSessions = args.Int("pair-sessions", 4_000);
        var pairRounds = args.Int("pair-rounds", 5);
        var shortCount = args.Int("pair-short", 10);
        var longCount = args.Int("pair-long", 190);
        var turn = Turn(100);

        await using var silo = await InProcessSilo.StartAsync(clusterId: "appendinproc", configure: s => s.AddIncomingGrainCallFilter<GrainCallCounter>());
        var client = silo.Client;
        var grains = await CreateAsync(client, "append-user-", sessions, depth);
        var bare = Enumerable.Range(0, sessions).Select(i => client.GetGrain<IBareGrain>("append-bare-" + Key(i))).ToArray();
        await Loops.ForEachAsync(sessions, depth, i => bare[i].WriteAsync());
        Func<int, ValueTask<SessionAppendResult>> append = i => new ValueTask<SessionAppendResult>(grains[i].AppendMessagesAsync(turn));
        Func<int, ValueTask<int>> write = i => new ValueTask<int>(bare[i].WriteAsync());

        if (args.Double("profile-seconds", 0) is > 0 and var profile)
        {
            // --profile-seconds S: the append loop alone for S seconds after its warm-up, for a profiler attached once
            // "measuring" is printed; nothing else is measured.
            await Loops.ClosedAsync(depth, sessions, warmup, append, record: false);
            Console.WriteLine($"append: measuring, pid {Environment.ProcessId}");
            var alone = await MeasureSelfAsync(depth, sessions, TimeSpan.Zero, TimeSpan.FromSeconds(profile), append);
            Console.WriteLine($"append: {Describe(alone)}; load {Load.Average()}");
            return;
        }

        // Floor, then product, each after its own warm-up (as the inproc step).
        var writeResult = await MeasureSelfAsync(depth, sessions, warmup, duration, write);
        var appendResult = await MeasureSelfAsync(depth, sessions, warmup, duration, append);
        // Grain calls per call, storage grains included, in a short pass of each (the counter is idle otherwise).
        var appendCalls = await CountCallsAsync(depth, sessions, "ISessionGrain.AppendMessagesAsync", append);
        var writeCalls = await CountCallsAsync(depth, sessions, "IBareGrain.WriteAsync", write);
        var held = await HeldAsync(grains);
        var load = Load.Average();
        ResultSink.Add(new BenchResult
        {
            Target = "append.inproc",
            Value = appendResult.Loop.Rate,
            Unit = "turns/s",
            Baseline = $"bare Orleans one-field write through the same memory storage, hosted client, {depth} outstanding",
            BaselineValue = writeResult.Loop.Rate,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"one AppendMessagesAsync of two ~100-byte messages (user + assistant) per turn, with its touch; hosted client of the in-process silo (memory default), {depth} outstanding over {sessions} live sessions, {duration.TotalSeconds}s after {warmup.TotalSeconds}s warm-up; at the end {held}; {appendResult.Loop.Rate / writeResult.Loop.Rate:P0} of the bare write; {Describe(appendResult)}; grain calls per turn: {GrainCallCounter.PerCall(appendCalls.Counts, appendCalls.Calls)}; bare write: {Describe(writeResult)}, grain calls per write: {GrainCallCounter.PerCall(writeCalls.Counts, writeCalls.Calls)}; load {load}"),
        });
        ResultSink.Add(new BenchResult
        {
            Target = "append.inproc.bare.write",
            Value = writeResult.Loop.Rate,
            Unit = "calls/s",
            Note = string.Create(CultureInfo.InvariantCulture, $"floor: IBareGrain.WriteAsync (one field, WriteStateAsync on the memory grain storage \"OrleansSessions\") on {sessions} grains, same silo and loop; {Describe(writeResult)}"),
        });

        // Conversation length: sessions filled to `shortCount` and to `longCount` messages turn by turn (the stored header
        // lists one record per turn, as in use), then alternating rounds of one turn per session of each set; the long set
        // stays within the default limit (200): no trimming in the rounds.
        var shortSet = await CreateAsync(client, "short-user-", pairSessions, depth);
        var longSet = await CreateAsync(client, "long-user-", pairSessions, depth);
        await Loops.ForEachAsync(pairSessions * (shortCount / 2), depth, k => shortSet[k % pairSessions].AppendMessagesAsync(turn));
        await Loops.ForEachAsync(pairSessions * (longCount / 2), depth, k => longSet[k % pairSessions].AppendMessagesAsync(turn));
        var shortRounds = new List<Round>();
        var longRounds = new List<Round>();
        for (var r = 0; r < pairRounds; r++)
        {
            shortRounds.Add(await RoundAsync(shortSet, depth, turn));
            longRounds.Add(await RoundAsync(longSet, depth, turn));
        }
        var shortTotal = Round.Sum(shortRounds);
        var longTotal = Round.Sum(longRounds);
        var shortHeld = (await shortSet[0].GetAsync()).MessageCount;
        var longHeld = (await longSet[0].GetAsync()).MessageCount;
        var shortState = await StoredStateBytesAsync(silo, shortSet[0]);
        var longState = await StoredStateBytesAsync(silo, longSet[0]);
        var ratio = shortTotal.Rate / longTotal.Rate;
        var cpuRatio = longTotal.CpuUs / shortTotal.CpuUs;
        load = Load.Average();
        ResultSink.Add(new BenchResult
        {
            Target = $"append.inproc.at{longCount}",
            Value = longTotal.Rate,
            Unit = "turns/s",
            Goal = $"within 1.2 x of at {shortCount} (time and CPU per turn)",
            Baseline = $"append on sessions holding {shortCount} messages, same silo, rounds in turn",
            BaselineValue = shortTotal.Rate,
            Pass = ratio <= 1.2 && cpuRatio <= 1.2,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"{pairSessions} sessions filled to {longCount} and {pairSessions} to {shortCount} messages, two per append (Sessions:ConversationLimit 200, the default: no trimming, the long ones end at {longHeld}, the short ones at {shortHeld}); {pairRounds} rounds each of one turn per session, {depth} concurrent, alternating; time per turn at {longCount} = {ratio:F2} x at {shortCount}; CPU per turn (whole process) {cpuRatio:F2} x, allocated per turn {longTotal.BytesPerTurn / shortTotal.BytesPerTurn:F2} x; the session's stored state (what each append rewrites, besides its 2-message record) serialized by {shortState.Serializer}: {longState.Bytes} B at {longHeld} messages vs {shortState.Bytes} B at {shortHeld}; at {longCount}: {longTotal.Describe()}; at {shortCount}: {shortTotal.Describe()}; per round at {longCount}: {string.Join(" ", longRounds.Select(x => x.Rate.ToString("N0", CultureInfo.InvariantCulture)))}, at {shortCount}: {string.Join(" ", shortRounds.Select(x => x.Rate.ToString("N0", CultureInfo.InvariantCulture)))}; load {load}"),
        });
    }

    private sealed record Round(long Turns, double Seconds, double CpuSeconds, long Allocated, LatencyHistogram Histogram)
    {
        public double Rate => Turns / Seconds;

        public double CpuUs => CpuSeconds * 1e6 / Turns;

        public double BytesPerTurn => Allocated / (double)Turns;

        public string Describe() => string.Create(CultureInfo.InvariantCulture,
            $"{Rate:N0} turns/s, p50 {Histogram.Milliseconds(0.5):F3} p99 {Histogram.Milliseconds(0.99):F3} ms, {CpuUs:F1} us CPU and {BytesPerTurn:F0} B allocated per turn (whole process)");

        public static Round Sum(List<Round> rounds)
        {
            var histogram = new LatencyHistogram();
            foreach (var r in rounds)
            {
                histogram.Add(r.Histogram);
            }
            return new Round(rounds.Sum(r => r.Turns), rounds.Sum(r => r.Seconds), rounds.Sum(r => r.CpuSeconds), rounds.Sum(r => r.Allocated), histogram);
        }
    }

    /// <summary>One turn appended to each of <paramref name="grains"/>, <paramref name="concurrency"/> at a time.</summary>
    private static async Task<Round> RoundAsync(ISessionGrain[] grains, int concurrency, IReadOnlyList<NewSessionMessage> turn)
    {
        var histogram = new LatencyHistogram();
        var next = -1;
        var cpu = CpuTime.Self();
        var allocated = GC.GetTotalAllocatedBytes(precise: false);
        var stopwatch = Stopwatch.StartNew();
        var tasks = new Task[concurrency];
        for (var t = 0; t < concurrency; t++)
        {
            tasks[t] = Task.Run(async () =>
            {
                var local = new LatencyHistogram();
                int i;
                while ((i = Interlocked.Increment(ref next)) < grains.Length)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    await grains[i].AppendMessagesAsync(turn);
                    local.Record((long)Stopwatch.GetElapsedTime(t0).TotalNanoseconds);
                }
                lock (histogram)
                {
                    histogram.Add(local);
                }
            });
        }
        await Task.WhenAll(tasks);
        var seconds = stopwatch.Elapsed.TotalSeconds;
        return new Round(grains.Length, seconds, (CpuTime.Self() - cpu).TotalSeconds, GC.GetTotalAllocatedBytes(precise: false) - allocated, histogram);
    }

    /// <summary>The size of a session's stored state as the silo's grain storage serializer writes it, and that serializer.</summary>
    private static async Task<(int Bytes, string Serializer)> StoredStateBytesAsync(InProcessSilo silo, ISessionGrain grain)
    {
        var storage = silo.Services.GetRequiredKeyedService<IGrainStorage>(SessionStorage.Name);
        var serializer = silo.Services.GetRequiredService<IGrainStorageSerializer>();
        var state = new GrainState<SessionState>(new SessionState());
        await storage.ReadStateAsync(SessionStorage.SessionStateName, grain.GetGrainId(), state);
        return (serializer.Serialize(state.State).ToMemory().Length, serializer.GetType().Name);
    }

    private static async Task<(LoopResult Loop, double CpuUs, double GcPause)> MeasureSelfAsync<T>(int depth, int keys, TimeSpan warmup, TimeSpan duration, Func<int, ValueTask<T>> call)
    {
        await Loops.ClosedAsync(depth, keys, warmup, call, record: false);
        var cpu = CpuTime.Self();
        var pause = GC.GetTotalPauseDuration();
        var started = Stopwatch.GetTimestamp();
        var loop = await Loops.ClosedAsync(depth, keys, duration, call);
        var share = (GC.GetTotalPauseDuration() - pause) / Stopwatch.GetElapsedTime(started);
        return (loop, (CpuTime.Self() - cpu).TotalMicroseconds / Math.Max(1, loop.Rate * duration.TotalSeconds), share);
    }

    /// <summary>Grain calls by interface method during a 1 s loop of <paramref name="call"/>, and how many of them were <paramref name="method"/> (the loop's own calls).</summary>
    private static async Task<(Dictionary<string, long> Counts, long Calls)> CountCallsAsync<T>(int depth, int keys, string method, Func<int, ValueTask<T>> call)
    {
        GrainCallCounter.Start();
        await Loops.ClosedAsync(depth, keys, TimeSpan.FromSeconds(1), call, record: false);
        var counts = GrainCallCounter.Stop();
        return (counts, counts.GetValueOrDefault(method));
    }

    private static string Describe((LoopResult Loop, double CpuUs, double GcPause) m) => string.Create(CultureInfo.InvariantCulture,
        $"{m.Loop.Rate:N0}/s, p50 {m.Loop.Histogram.Milliseconds(0.5):F3} p99 {m.Loop.Histogram.Milliseconds(0.99):F3} max {m.Loop.Histogram.Milliseconds(1):F1} ms, {m.Loop.Errors} errors, {m.CpuUs:F1} us CPU per call (whole process), {m.Loop.BytesPerCall:F0} B allocated per call, {m.Loop.Gen0PerSecond:F1} gen0 GCs/s, GC pauses {m.GcPause:P1} of the time");

    // ---------------------------------------------------------------- network

    private static async Task NetworkAsync(Args args)
    {
        var depths = args.Get("depths", "1,64,1024").Split(',').Select(d => int.Parse(d, CultureInfo.InvariantCulture)).ToArray();
        var duration = args.Seconds("net-seconds", args.Double("seconds", 5));
        var warmup = args.Seconds("net-warmup-seconds", args.Double("warmup-seconds", 2));
        var keys = args.Int("net-sessions", args.Int("sessions", 10_000));
        var redisPort = args.Int("redis-port", 0);
        var redisPid = args.Int("redis-pid", 0);
        var redisSeconds = args.Seconds("redis-seconds", 4);
        var transactionDepths = args.Get("redis-transaction-depths", "64").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(d => int.Parse(d, CultureInfo.InvariantCulture)).ToHashSet();
        var turn = Turn(100);

        // (1) Redis, while no silo runs: the turn as an RPUSH + LTRIM + EXPIRE pipeline, and as MULTI/EXEC where asked.
        var redis = new Dictionary<int, RedisChatResult>();
        var redisTransaction = new Dictionary<int, RedisChatResult>();
        if (redisPort > 0)
        {
            var endpoint = $"127.0.0.1:{redisPort.ToString(CultureInfo.InvariantCulture)}";
            foreach (var depth in depths)
            {
                redis[depth] = await RedisChatPipeline.RunAsync(endpoint, "bench:append:chat:", depth, keys, TimeSpan.FromSeconds(1), redisSeconds, redisPid,
                    turn[0].Content, turn[1].Content, 200, transaction: false);
                Console.WriteLine($"  redis RPUSH+LTRIM+EXPIRE pipeline, {depth} outstanding: {redis[depth].Describe()}");
                if (transactionDepths.Contains(depth))
                {
                    redisTransaction[depth] = await RedisChatPipeline.RunAsync(endpoint, "bench:append:chatx:", depth, keys, TimeSpan.FromSeconds(1), redisSeconds, redisPid,
                        turn[0].Content, turn[1].Content, 200, transaction: true);
                    Console.WriteLine($"  redis MULTI RPUSH+LTRIM+EXPIRE EXEC, {depth} outstanding: {redisTransaction[depth].Describe()}");
                }
            }
        }

        // (2) The bare silo and the silo host (memory storage), measured in turn at each depth: floor, then product.
        await using var bareSilo = SiloProcess.StartBareSilo("bare-silo", "appendnetbare");
        // With an API token, so that its /metrics (the runtime's GC counters) can be read around each loop.
        var token = SiloGcMetrics.NewToken();
        await using var silo = SiloProcess.StartSiloHost("silo", ["--Storage:Provider=memory", "--Cluster:ClusterId=appendnet", $"--Security:ApiToken={token}"]);
        await Task.WhenAll(bareSilo.WaitReadyAsync(TimeSpan.FromSeconds(60)), silo.WaitReadyAsync(TimeSpan.FromSeconds(60)));
        await using var bareClient = await ClientHost.StartAsync([bareSilo.Gateway], "appendnetbare");
        await using var sessionClient = await ClientHost.StartAsync([silo.Gateway], "appendnet");
        var bare = Enumerable.Range(0, keys).Select(i => bareClient.Client.GetGrain<IBareGrain>("bare-" + Key(i))).ToArray();
        await Loops.ForEachAsync(keys, 64, i => bare[i].WriteAsync());
        var createStarted = Stopwatch.StartNew();
        var grains = await CreateAsync(sessionClient.Client, "net-append-user-", keys, 64);
        var createSeconds = createStarted.Elapsed.TotalSeconds;
        Func<int, ValueTask<int>> write = i => new ValueTask<int>(bare[i].WriteAsync());
        Func<int, ValueTask<SessionAppendResult>> append = i => new ValueTask<SessionAppendResult>(grains[i].AppendMessagesAsync(turn));

        foreach (var depth in depths)
        {
            var floor = await NetworkThroughput.MeasureAsync(bareSilo.Pid, depth, keys, warmup, duration, write);
            await Loops.ClosedAsync(depth, keys, warmup, append, record: false);
            var gcBefore = await SiloGcMetrics.ScrapeAsync(silo, token);
            var started = Stopwatch.GetTimestamp();
            var measured = await NetworkThroughput.MeasureAsync(silo.Pid, depth, keys, TimeSpan.Zero, duration, append);
            var elapsed = Stopwatch.GetElapsedTime(started);
            var siloGc = SiloGcMetrics.Describe(gcBefore, await SiloGcMetrics.ScrapeAsync(silo, token), measured.Result.Rate * duration.TotalSeconds, elapsed);
            var held = await HeldAsync(grains);
            var load = Load.Average();
            var d = depth.ToString(CultureInfo.InvariantCulture);
            var r = redis.GetValueOrDefault(depth);
            var scored = depth == 64;
            var transaction = redisTransaction.GetValueOrDefault(depth);
            ResultSink.Add(new BenchResult
            {
                Target = $"append.net.depth{d}",
                Value = measured.Result.Rate,
                Unit = "turns/s",
                Goal = scored ? ">= redis RPUSH+LTRIM+EXPIRE pipeline" : "",
                Baseline = $"redis RPUSH+LTRIM+EXPIRE per turn, pipelined, one connection, {d} outstanding",
                BaselineValue = r?.Loop.Rate,
                Pass = scored ? r is not null && measured.Result.Rate >= r.Loop.Rate : null,
                Note = string.Create(CultureInfo.InvariantCulture,
                    $"one client process (this one) over the gateway of the silo host process (memory storage), one AppendMessagesAsync of two ~100-byte messages per turn, {d} outstanding over {keys} sessions ({keys} created over the gateway in {createSeconds:F1}s), {duration.TotalSeconds}s after {warmup.TotalSeconds}s warm-up; after this depth {held}; append {NetworkThroughput.Describe(measured)}, {siloGc}; {(r is null ? "redis not run" : string.Create(CultureInfo.InvariantCulture, $"{measured.Result.Rate / r.Loop.Rate:P0} of redis ({r.Describe()}; StackExchange.Redis batch on the bench's redis-server without persistence, 127.0.0.1:{redisPort})"))}{(transaction is null ? "" : string.Create(CultureInfo.InvariantCulture, $"; the same turn as MULTI/EXEC: {transaction.Describe()}"))}; bare write over the gateway {NetworkThroughput.Describe(floor)}, append = {measured.Result.Rate / floor.Result.Rate:P0} of it; load {load}"),
            });
            ResultSink.Add(new BenchResult
            {
                Target = $"append.net.bare.write.depth{d}",
                Value = floor.Result.Rate,
                Unit = "calls/s",
                Baseline = $"redis RPUSH+LTRIM+EXPIRE per turn, pipelined, {d} outstanding",
                BaselineValue = r?.Loop.Rate,
                Note = string.Create(CultureInfo.InvariantCulture, $"floor: IBareGrain.WriteAsync over the gateway of the bare silo process (memory grain storage), same client shape and loop: {NetworkThroughput.Describe(floor)}"),
            });
            if (transaction is not null)
            {
                ResultSink.Add(new BenchResult
                {
                    Target = $"append.net.redisTransaction.depth{d}",
                    Value = transaction.Loop.Rate,
                    Unit = "turns/s",
                    Baseline = $"redis RPUSH+LTRIM+EXPIRE per turn, pipelined (no MULTI), {d} outstanding",
                    BaselineValue = r?.Loop.Rate,
                    Note = $"information: the same three commands per turn in MULTI/EXEC (atomic, as an append is): {transaction.Describe()}",
                });
            }
        }
    }

    // ---------------------------------------------------------------- durable (PostgreSQL)

    private static async Task PostgresAsync(Args args)
    {
        if (args.Get("pg") is not { Length: > 0 } server)
        {
            Console.WriteLine("  append durable: no --pg, skipped");
            return;
        }
        var sessions = args.Int("sessions", 10_000);
        var depth = args.Int("depth", 64);
        var duration = args.Seconds("seconds", 5);
        var warmup = args.Seconds("warmup-seconds", 2);
        var pool = args.Int("pool", 30);
        var turn = Turn(100);
        var connectionString = await PostgresDatabase.RecreateAsync(server, "orleanssessions_bench_append", pool);

        // The raw floor first, on its own pool of `depth` connections, closed before the silo opens its own.
        var rawString = new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = depth + 2 }.ConnectionString;
        DurableThroughput.Measured rawInsert;
        await using (var raw = NpgsqlDataSource.Create(rawString))
        await using (var rawStats = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = 2 }.ConnectionString))
        {
            await DurableThroughput.ExecuteAsync(raw, "CREATE TABLE bench_raw_message (session_id text NOT NULL, message_id bigint NOT NULL, role text NOT NULL, content text NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (session_id, message_id))");
            var names = Enumerable.Range(0, sessions).Select(i => "session-" + Key(i)).ToArray();
            var content = turn[0].Content;
            // Connection l writes to sessions l, l + depth, ... (mod the count); a new message id per statement.
            rawInsert = await DurableThroughput.RawLoopAsync(raw, rawStats, depth, warmup, duration,
                "INSERT INTO bench_raw_message (session_id, message_id, role, content, at) VALUES ($1, $2, 'user', $3, now())", (command, l, n) =>
                {
                    if (command.Parameters.Count == 0)
                    {
                        command.Parameters.Add(new NpgsqlParameter<string>());
                        command.Parameters.Add(new NpgsqlParameter<long>());
                        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = content });
                    }
                    ((NpgsqlParameter<string>)command.Parameters[0]).TypedValue = names[(int)((l + n * depth) % sessions)];
                    ((NpgsqlParameter<long>)command.Parameters[1]).TypedValue = (long)l << 40 | n;
                });
        }
        NpgsqlConnection.ClearAllPools();

        await using var silo = await InProcessSilo.StartAsync(new Dictionary<string, string?> { ["Sessions:PersistTouches"] = "true" },
            postgres: connectionString, clusterId: "appendpg");
        var client = silo.Client;
        await using var stats = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = 2 }.ConnectionString);
        var grains = await CreateAsync(client, "pg-append-user-", sessions, depth);
        var appended = await DurableThroughput.MeasureAsync(stats, depth, sessions, warmup, duration, i => new ValueTask<SessionAppendResult>(grains[i].AppendMessagesAsync(turn)));
        var bare = Enumerable.Range(0, sessions).Select(i => client.GetGrain<IBareGrain>("pg-append-bare-" + Key(i))).ToArray();
        await Loops.ForEachAsync(sessions, depth, i => bare[i].WriteAsync());
        var write = await DurableThroughput.MeasureAsync(stats, depth, sessions, warmup, duration, i => new ValueTask<int>(bare[i].WriteAsync()));
        var held = await HeldAsync(grains);
        var load = Load.Average();
        var conditions = string.Create(CultureInfo.InvariantCulture,
            $"PostgreSQL 127.0.0.1 (fsync on), in-process silo on UseOrleansSessionsPostgreSql (pool {pool}), hosted client, {depth} outstanding over {sessions} sessions, {duration.TotalSeconds}s after {warmup.TotalSeconds}s warm-up");
        ResultSink.Add(new BenchResult
        {
            Target = "append.durable.postgres",
            Value = appended.Loop.Rate,
            Unit = "turns/s",
            Goal = ">= 5 x raw INSERT loop",
            Baseline = $"raw single-row INSERT of a message row, {depth} connections, autocommit",
            BaselineValue = rawInsert.Rate,
            Pass = appended.Loop.Rate >= 5 * rawInsert.Rate,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"{conditions}; one AppendMessagesAsync of two ~100-byte messages per turn; at the end {held}; {appended.Loop.Rate / rawInsert.Rate:F2} x the raw INSERT loop, {appended.Loop.Rate / write.Loop.Rate:P0} of the bare grain write; append: {DurableThroughput.Describe(appended)}; raw INSERT loop (prepared, one ~100-byte message row per statement into a (session_id, message_id) keyed table): {DurableThroughput.Describe(rawInsert)}; load {load}"),
        });
        ResultSink.Add(new BenchResult
        {
            Target = "append.durable.postgres.bare.write",
            Value = write.Loop.Rate,
            Unit = "calls/s",
            Baseline = $"raw single-row INSERT loop, {depth} connections",
            BaselineValue = rawInsert.Rate,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"floor: IBareGrain.WriteAsync (one field, WriteStateAsync on the grain storage \"OrleansSessions\" of the same silo) on {sessions} grains; {conditions}; {DurableThroughput.Describe(write)}"),
        });
    }

    // ---------------------------------------------------------------- durable (Redis)

    private static async Task RedisAsync(Args args)
    {
        if (args.Get("redis") is not { Length: > 0 } redis)
        {
            Console.WriteLine("  append redis: no --redis, skipped");
            return;
        }
        var redisPid = args.Int("redis-durable-pid", 0);
        var sessions = args.Int("sessions", 10_000);
        var depth = args.Int("depth", 64);
        var duration = args.Seconds("seconds", 5);
        var warmup = args.Seconds("warmup-seconds", 2);
        var turn = Turn(100);

        // The floor first, alone on the emptied server; emptied again for the silo.
        (await RedisKeySpace.FlushAsync(redis)).Dispose();
        var floor = await RedisChatPipeline.RunAsync(redis, "bench:append:chat:", depth, sessions, warmup, duration, redisPid, turn[0].Content, turn[1].Content, 200, transaction: false);
        Console.WriteLine($"  durable redis RPUSH+LTRIM+EXPIRE pipeline, {depth} outstanding: {floor.Describe()}");
        using var connection = await RedisKeySpace.FlushAsync(redis);

        await using var silo = await InProcessSilo.StartAsync(clusterId: "appendredis", redis: redis);
        var client = silo.Client;
        var grains = await CreateAsync(client, "redis-append-user-", sessions, depth);
        var appended = await MeasureRedisAsync(connection, redisPid, depth, sessions, warmup, duration, i => new ValueTask<SessionAppendResult>(grains[i].AppendMessagesAsync(turn)));
        var bare = Enumerable.Range(0, sessions).Select(i => client.GetGrain<IBareGrain>("redis-append-bare-" + Key(i))).ToArray();
        await Loops.ForEachAsync(sessions, depth, i => bare[i].WriteAsync());
        var write = await MeasureRedisAsync(connection, redisPid, depth, sessions, warmup, duration, i => new ValueTask<int>(bare[i].WriteAsync()));
        var held = await HeldAsync(grains);
        var load = Load.Average();
        var conditions = string.Create(CultureInfo.InvariantCulture,
            $"the bench's durable redis-server ({redis}, appendonly yes, appendfsync always), in-process silo on UseOrleansSessionsRedis (Orleans Redis grain storage), hosted client, {depth} outstanding over {sessions} sessions, {duration.TotalSeconds}s after {warmup.TotalSeconds}s warm-up");
        ResultSink.Add(new BenchResult
        {
            Target = "append.durable.redis",
            Value = appended.Loop.Rate,
            Unit = "turns/s",
            Baseline = $"redis RPUSH+LTRIM+EXPIRE per turn, pipelined, one connection, {depth} outstanding, same server",
            BaselineValue = floor.Loop.Rate,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"{conditions}; one AppendMessagesAsync of two ~100-byte messages per turn; at the end {held}; {appended.Loop.Rate / floor.Loop.Rate:P0} of the Redis pipeline, {appended.Loop.Rate / write.Loop.Rate:P0} of the bare grain write; append: {appended.Describe("bench process (silo and client)")}; Redis pipeline: {floor.Describe()}; load {load}"),
        });
        ResultSink.Add(new BenchResult
        {
            Target = "append.durable.redis.bare.write",
            Value = write.Loop.Rate,
            Unit = "calls/s",
            Baseline = "redis RPUSH+LTRIM+EXPIRE per turn, pipelined, same server",
            BaselineValue = floor.Loop.Rate,
            Note = string.Create(CultureInfo.InvariantCulture,
                $"floor: IBareGrain.WriteAsync (one field, WriteStateAsync on the Orleans Redis grain storage \"OrleansSessions\" of the same silo) on {sessions} grains; {conditions}; {write.Describe("bench process (silo and client)")}"),
        });
    }

    private static async Task<RedisChatResult> MeasureRedisAsync<T>(ConnectionMultiplexer connection, int redisPid, int depth, int keys, TimeSpan warmup, TimeSpan duration, Func<int, ValueTask<T>> call)
    {
        await Loops.ClosedAsync(depth, keys, warmup, call, record: false);
        var commands = await RedisKeySpace.CommandsAsync(connection);
        var server = redisPid > 0 ? CpuTime.Of(redisPid) : TimeSpan.Zero;
        var self = CpuTime.Self();
        var loop = await Loops.ClosedAsync(depth, keys, duration, call);
        var calls = Math.Max(1, loop.Rate * duration.TotalSeconds);
        var serverUs = redisPid > 0 ? (CpuTime.Of(redisPid) - server).TotalMicroseconds / calls : double.NaN;
        var selfUs = (CpuTime.Self() - self).TotalMicroseconds / calls;
        var perCall = (await RedisKeySpace.CommandsAsync(connection) - commands - 1) / calls;
        return new RedisChatResult(loop, serverUs, selfUs, perCall);
    }

    // ---------------------------------------------------------------- shared

    /// <summary>Creates <paramref name="count"/> sessions, one user each (prefix + index), and returns their grains.</summary>
    private static async Task<ISessionGrain[]> CreateAsync(IClusterClient client, string userPrefix, int count, int concurrency)
    {
        var ids = new string[count];
        await Loops.ForEachAsync(count, concurrency, async i => ids[i] = (await client.GetGrain<IUserSessionsGrain>(userPrefix + Key(i)).CreateSessionAsync()).SessionId);
        return ids.Select(id => client.GetGrain<ISessionGrain>(id)).ToArray();
    }

    /// <summary>Messages held by up to 100 of <paramref name="grains"/>, evenly spread: "mean m, max n (of k sampled)".</summary>
    private static async Task<string> HeldAsync(ISessionGrain[] grains)
    {
        var step = Math.Max(1, grains.Length / 100);
        var counts = new List<int>();
        for (var i = 0; i < grains.Length; i += step)
        {
            counts.Add((await grains[i].GetAsync()).MessageCount);
        }
        return string.Create(CultureInfo.InvariantCulture, $"messages held per session: mean {counts.Average():F0}, max {counts.Max()} of {counts.Count} sampled (Sessions:ConversationLimit 200)");
    }

    private static string Key(int i) => i.ToString(CultureInfo.InvariantCulture);
}
