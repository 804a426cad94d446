using System.Globalization;
using StackExchange.Redis;

namespace OrleansSessions.Benchmarks.Infrastructure;

internal sealed record RedisChatResult(LoopResult Loop, double ServerUsPerTurn, double ClientUsPerTurn, double CommandsPerTurn)
{
    public string Describe(string client = "client") => string.Create(CultureInfo.InvariantCulture,
        $"{Loop.Rate:N0}/s, p50 {Loop.Histogram.Milliseconds(0.5):F3} p99 {Loop.Histogram.Milliseconds(0.99):F3} ms, {Loop.Errors} errors, CPU per call: redis-server {ServerUsPerTurn:F1} us, {client} {ClientUsPerTurn:F1} us; {CommandsPerTurn:F2} Redis commands per call");
}

/// <summary>
/// How chat histories are kept in Redis today, as the floor of an append: one turn = <c>RPUSH key user assistant</c>,
/// <c>LTRIM key -limit -1</c>, <c>EXPIRE key ttl</c> on the conversation's list, sent together as one pipelined batch
/// (StackExchange.Redis <see cref="IBatch"/>: no MULTI/EXEC), or with <c>transaction</c> as one MULTI/EXEC
/// (<see cref="ITransaction"/>). One connection (one multiplexer, as an application holds it), N turns outstanding
/// (N loops, each awaiting its turn's three replies), over <c>keys</c> lists, with the same loop code as the Orleans calls.
/// </summary>
internal static class RedisChatPipeline
{
    public static async Task<RedisChatResult> RunAsync(string endpoint, string prefix, int outstanding, int keys, TimeSpan warmup, TimeSpan duration,
        int serverPid, string user, string assistant, int limit, bool transaction)
    {
        var options = ConfigurationOptions.Parse(endpoint);
        options.AllowAdmin = true;
        await using var connection = await ConnectionMultiplexer.ConnectAsync(options);
        var db = connection.GetDatabase();
        var names = Enumerable.Range(0, keys).Select(i => (RedisKey)(prefix + i.ToString(CultureInfo.InvariantCulture))).ToArray();
        RedisValue[] values = [user, assistant];
        var ttl = TimeSpan.FromMinutes(30);
        Func<int, ValueTask<bool>> turn = transaction
            ? async i =>
            {
                var t = db.CreateTransaction();
                var push = t.ListRightPushAsync(names[i], values);
                var trim = t.ListTrimAsync(names[i], -limit, -1);
                var expire = t.KeyExpireAsync(names[i], ttl);
                await t.ExecuteAsync();
                await push;
                await trim;
                return await expire;
            }
            : async i =>
            {
                var b = db.CreateBatch();
                var push = b.ListRightPushAsync(names[i], values);
                var trim = b.ListTrimAsync(names[i], -limit, -1);
                var expire = b.KeyExpireAsync(names[i], ttl);
                b.Execute();
                await push;
                await trim;
                return await expire;
            };
        await Loops.ClosedAsync(outstanding, keys, warmup, turn, record: false);
        var commands = await RedisKeySpace.CommandsAsync(connection);
        var server = serverPid > 0 ? CpuTime.Of(serverPid) : TimeSpan.Zero;
        var client = CpuTime.Self();
        var loop = await Loops.ClosedAsync(outstanding, keys, duration, turn);
        var turns = Math.Max(1, loop.Rate * duration.TotalSeconds);
        var serverUs = serverPid > 0 ? (CpuTime.Of(serverPid) - server).TotalMicroseconds / turns : double.NaN;
        var clientUs = (CpuTime.Self() - client).TotalMicroseconds / turns;
        // INFO itself is one command of the delta.
        var perTurn = (await RedisKeySpace.CommandsAsync(connection) - commands - 1) / turns;
        return new RedisChatResult(loop, serverUs, clientUs, perTurn);
    }
}
