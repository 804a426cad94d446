using System.Buffers;
using OrleansSessions.Invocation;
using OrleansSessions.Reminders;
using OrleansSessions.Sessions;

namespace OrleansSessions.Serialization.Tests;

/// <summary>Every generated request of the Abstractions grain interfaces, through the wire format.</summary>
public class AbstractionsRequestTests
{
    private sealed record Case<TInterface>(string Method, int MethodId, InvokeFlags Flags, Func<TInterface, Task> Call, object?[] Args);

    private static async Task Check<TInterface>(int methodCount, params Case<TInterface>[] cases) where TInterface : IGrain
    {
        var interfaceId = GrainInterfaceRegistry.GetInterfaceId<TInterface>();
        Assert.Equal(GrainInterfaceRegistry.ComputeInterfaceId(typeof(TInterface).FullName!), interfaceId);
        var info = GrainInterfaceRegistry.Find(interfaceId);
        Assert.NotNull(info);
        Assert.Equal(typeof(TInterface), info.InterfaceType);
        Assert.Null(info.RequestFactory(methodCount));
        Assert.Null(info.RequestFactory(-1));
        Assert.Equal(methodCount, cases.Length);

        foreach (var c in cases)
        {
            var invoker = new RecordingInvoker();
            var proxy = GrainInterfaceRegistry.CreateProxy<TInterface>("key/1", invoker);
            Assert.IsAssignableFrom<GrainReference>(proxy);
            await c.Call(proxy);

            var (target, sent, oneWay) = Assert.Single(invoker.Sent);
            Assert.Equal(new GrainId(interfaceId, "key/1"), target);
            Assert.Equal(interfaceId, sent.InterfaceId);
            Assert.Equal(c.MethodId, sent.MethodId);
            Assert.Equal(c.Method, sent.MethodName);
            Assert.Equal(c.Flags, sent.Flags);
            Assert.Equal((c.Flags & InvokeFlags.OneWay) != 0, oneWay);

            var empty = info.RequestFactory(c.MethodId);
            Assert.NotNull(empty);
            Assert.Equal(sent.GetType(), empty.GetType());
            Assert.Equal(c.Method, empty.MethodName);

            var copy = Wire.Copy(sent);
            var grain = new RecordingGrain();
            var output = new ArrayBufferWriter<byte>();
            await copy.InvokeAndWriteResultAsync(grain, output);
            var (method, args) = Assert.Single(grain.Calls);
            Assert.Equal(c.Method, method);
            Assert.Equal(c.Args, args);
        }
    }

    [Fact]
    public Task SessionGrain_Requests() => Check<ISessionGrain>(
        9,
        new("CreateAsync", 0, InvokeFlags.None, g => g.CreateAsync("user-1"), ["user-1"]),
        new("IsActiveAsync", 1, InvokeFlags.None, g => g.IsActiveAsync().AsTask(), []),
        new("TouchAsync", 2, InvokeFlags.None, g => g.TouchAsync().AsTask(), []),
        new("GetAsync", 3, InvokeFlags.None, g => g.GetAsync().AsTask(), []),
        new("CloseAsync", 4, InvokeFlags.None, g => g.CloseAsync(), []),
        new("EndAsync", 5, InvokeFlags.None, g => g.EndAsync(EndReason.AbsoluteTimeout), [EndReason.AbsoluteTimeout]),
        new("ExpireIfDueAsync", 6, InvokeFlags.None, g => g.ExpireIfDueAsync(), []),
        new("ForgetAsync", 7, InvokeFlags.OneWay, g => g.ForgetAsync(), []),
        new("WakeAsync", 8, InvokeFlags.None, g => g.WakeAsync(), []));

    [Fact]
    public Task UserSessionsGrain_Requests() => Check<IUserSessionsGrain>(
        6,
        new("CreateSessionAsync", 0, InvokeFlags.None, g => g.CreateSessionAsync(), []),
        new("GetActiveSessionsAsync", 1, InvokeFlags.None, g => g.GetActiveSessionsAsync(), []),
        new("GetCurrentSessionAsync", 2, InvokeFlags.None, g => g.GetCurrentSessionAsync(), []),
        new("GetHistoryAsync", 3, InvokeFlags.None, g => g.GetHistoryAsync(25), [25]),
        new("CloseAllAsync", 4, InvokeFlags.None, g => g.CloseAllAsync(), []),
        new("SessionEndedAsync", 5, InvokeFlags.OneWay, g => g.SessionEndedAsync(GeneratedCodecTests.EndedSession() with { SessionId = "sess_x" }),
            [GeneratedCodecTests.EndedSession() with { SessionId = "sess_x" }]));

    [Fact]
    public Task JanitorGrain_Requests() => Check<IJanitorGrain>(
        2,
        new("RunNowAsync", 0, InvokeFlags.None, g => g.RunNowAsync(), []),
        new("EnsureStartedAsync", 1, InvokeFlags.None, g => g.EnsureStartedAsync(), []));

    [Fact]
    public Task Remindable_Requests()
    {
        var tick = new TickStatus(DateTimeOffset.UnixEpoch, TimeSpan.FromMinutes(1), DateTimeOffset.UnixEpoch.AddMinutes(3));
        return Check<IRemindable>(
            1,
            new Case<IRemindable>("ReceiveReminder", 0, InvokeFlags.None, g => g.ReceiveReminder("janitor", tick), ["janitor", tick]));
    }

    [Fact]
    public async Task Results_RoundTrip_ThroughLoopback()
    {
        var grain = new RecordingGrain();
        var invoker = new LoopbackInvoker(grain);
        var session = GrainInterfaceRegistry.CreateProxy<ISessionGrain>("s", invoker);
        Assert.Equal(RecordingGrain.Result, await session.CreateAsync("u"));
        Assert.True(await session.IsActiveAsync());
        Assert.Equal(RecordingGrain.Result, await session.TouchAsync());
        Assert.Null(await session.EndAsync(EndReason.Logout));
        var user = GrainInterfaceRegistry.CreateProxy<IUserSessionsGrain>("u", invoker);
        Assert.Equal([RecordingGrain.Result], await user.GetActiveSessionsAsync());
        Assert.Empty(await user.GetHistoryAsync(3));
        Assert.Equal(3, await user.CloseAllAsync());
        Assert.Equal(7, await GrainInterfaceRegistry.CreateProxy<IJanitorGrain>("0", invoker).RunNowAsync());
    }

    [Fact]
    public void Proxies_AreGrainReferences_WithValueEquality()
    {
        var invoker = new RecordingInvoker();
        var a = GrainInterfaceRegistry.CreateProxy<ISessionGrain>("same", invoker);
        var b = GrainInterfaceRegistry.CreateProxy<ISessionGrain>("same", new RecordingInvoker());
        var c = GrainInterfaceRegistry.CreateProxy<ISessionGrain>("other", invoker);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(((GrainReference)a).GrainId, ((GrainReference)b).GrainId);
    }
}
