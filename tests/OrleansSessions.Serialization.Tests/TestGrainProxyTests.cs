using OrleansSessions.Invocation;

namespace OrleansSessions.Serialization.Tests;

/// <summary>A test implementation of <see cref="ITestGrain"/> that records calls; optionally completes asynchronously.</summary>
internal sealed class TestGrainImpl(bool async = false) : ITestGrain
{
    public List<(string Method, object?[] Args)> Calls { get; } = [];

    private async Task Maybe()
    {
        if (async)
        {
            await Task.Yield();
        }
    }

    private void Record(string method, params object?[] args)
    {
        lock (Calls)
        {
            Calls.Add((method, args));
        }
    }

    public async Task<int> BaseAsync(int value)
    {
        Record(nameof(BaseAsync), value);
        await Maybe();
        return value * 2;
    }

    public async Task<string> EchoAsync(string text)
    {
        Record(nameof(EchoAsync), text);
        await Maybe();
        return "echo:" + text;
    }

    public async ValueTask<int> AddAsync(int a, int b)
    {
        Record(nameof(AddAsync), a, b);
        await Maybe();
        return a + b;
    }

    public async Task DoAsync(string? note)
    {
        Record(nameof(DoAsync), note);
        await Maybe();
        if (note == "fail")
        {
            throw new InvalidOperationException("DoAsync failed");
        }
    }

    public async ValueTask DoValueAsync(long value)
    {
        Record(nameof(DoValueAsync), value);
        await Maybe();
        if (value < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(value), "negative");
        }
    }

    public Task FireAsync(Guid id)
    {
        Record(nameof(FireAsync), id);
        return Task.CompletedTask;
    }

    public ValueTask FireValueAsync()
    {
        Record(nameof(FireValueAsync));
        return default;
    }

    public ValueTask<bool> PeekAsync()
    {
        Record(nameof(PeekAsync));
        return new ValueTask<bool>(true);
    }

    public Task PingAsync()
    {
        Record(nameof(PingAsync));
        return Task.CompletedTask;
    }

    public async Task<List<Dictionary<string, int>>?> ComplexAsync(int[] @params, IReadOnlyList<TestPayload> payloads, TestPayload? maybe)
    {
        Record(nameof(ComplexAsync), @params, payloads, maybe);
        await Maybe();
        return [new() { ["count"] = @params.Length + payloads.Count }];
    }

    public async Task<TestPoint> StructAsync(TestPoint point, int? count, DayOfWeek day)
    {
        Record(nameof(StructAsync), point, count, day);
        await Maybe();
        return point with { X = point.X + (count ?? 0), Label = day.ToString() };
    }

    public async Task<string?> NullableAsync(string? @string, byte[]? bytes)
    {
        Record(nameof(NullableAsync), @string, bytes);
        await Maybe();
        return bytes is null ? null : @string + bytes.Length;
    }
}

public class TestGrainProxyTests
{
    private static (ITestGrain Proxy, RecordingInvoker Invoker) Recording()
    {
        var invoker = new RecordingInvoker();
        return (GrainInterfaceRegistry.CreateProxy<ITestGrain>("t", invoker), invoker);
    }

    private static GrainRequest SingleRequest(RecordingInvoker invoker, bool oneWay = false)
    {
        var (_, request, sentOneWay) = Assert.Single(invoker.Sent);
        Assert.Equal(oneWay, sentOneWay);
        return request;
    }

    [Fact]
    public async Task MethodIds_InheritedFirst_ThenDeclarationOrder()
    {
        var expected = new (string Name, Func<ITestGrain, Task> Call, InvokeFlags Flags)[]
        {
            ("BaseAsync", g => g.BaseAsync(1), InvokeFlags.None),
            ("EchoAsync", g => g.EchoAsync("x"), InvokeFlags.None),
            ("AddAsync", g => g.AddAsync(1, 2).AsTask(), InvokeFlags.None),
            ("DoAsync", g => g.DoAsync(null), InvokeFlags.None),
            ("DoValueAsync", g => g.DoValueAsync(1).AsTask(), InvokeFlags.None),
            ("FireAsync", g => g.FireAsync(Guid.Empty), InvokeFlags.OneWay),
            ("FireValueAsync", g => g.FireValueAsync().AsTask(), InvokeFlags.OneWay),
            ("PeekAsync", g => g.PeekAsync().AsTask(), InvokeFlags.AlwaysInterleave),
            ("PingAsync", g => g.PingAsync(), InvokeFlags.OneWay | InvokeFlags.AlwaysInterleave),
            ("ComplexAsync", g => g.ComplexAsync([], [], null), InvokeFlags.None),
            ("StructAsync", g => g.StructAsync(default, null, DayOfWeek.Monday), InvokeFlags.None),
            ("NullableAsync", g => g.NullableAsync(null, null), InvokeFlags.None),
        };
        var interfaceId = GrainInterfaceRegistry.GetInterfaceId<ITestGrain>();
        var info = GrainInterfaceRegistry.Find(interfaceId)!;
        for (var id = 0; id < expected.Length; id++)
        {
            var (proxy, invoker) = Recording();
            await expected[id].Call(proxy);
            var request = SingleRequest(invoker, (expected[id].Flags & InvokeFlags.OneWay) != 0);
            Assert.Equal(id, request.MethodId);
            Assert.Equal(expected[id].Name, request.MethodName);
            Assert.Equal(expected[id].Flags, request.Flags);
            Assert.Equal(interfaceId, request.InterfaceId);
            Assert.Equal($"{typeof(ITestGrain).FullName}.{expected[id].Name}", request.ToString());
            Assert.Equal(request.GetType(), info.RequestFactory(id)!.GetType());
        }
        Assert.Null(info.RequestFactory(expected.Length));
    }

    [Fact]
    public async Task BaseInterface_HasItsOwnIds()
    {
        var invoker = new RecordingInvoker();
        await GrainInterfaceRegistry.CreateProxy<ITestBaseGrain>("b", invoker).BaseAsync(3);
        var request = SingleRequest(invoker);
        Assert.Equal(0, request.MethodId);
        Assert.Equal(GrainInterfaceRegistry.GetInterfaceId<ITestBaseGrain>(), request.InterfaceId);
        Assert.NotEqual(GrainInterfaceRegistry.GetInterfaceId<ITestGrain>(), request.InterfaceId);
    }

    [Fact]
    public async Task Request_InvokeAsync_CallsTheRightMethod_WithArguments()
    {
        var (proxy, invoker) = Recording();
        var payload = new TestPayload { Name = "p", Id = 4, Numbers = [9] };
        await proxy.ComplexAsync([1, 2, 3], [payload], null);
        var request = (GrainRequest<List<Dictionary<string, int>>?>)SingleRequest(invoker);

        // Directly on the request the proxy created.
        var grain = new TestGrainImpl();
        var result = await request.InvokeAsync(grain);
        Assert.Equal(4, Assert.Single(result!)["count"]);
        var (method, args) = Assert.Single(grain.Calls);
        Assert.Equal("ComplexAsync", method);
        Assert.Equal(new[] { 1, 2, 3 }, (int[])args[0]!);
        Assert.Same(payload, Assert.Single((IReadOnlyList<TestPayload>)args[1]!));
        Assert.Null(args[2]);

        // And on a copy that went through the wire format.
        var copy = (GrainRequest<List<Dictionary<string, int>>?>)Wire.Copy(request);
        var grain2 = new TestGrainImpl();
        await copy.InvokeAsync(grain2);
        var copiedArgs = Assert.Single(grain2.Calls).Args;
        Assert.Equal(new[] { 1, 2, 3 }, (int[])copiedArgs[0]!);
        var copiedPayload = Assert.Single((IReadOnlyList<TestPayload>)copiedArgs[1]!);
        Assert.Equal("p", copiedPayload.Name);
        Assert.Equal(4, copiedPayload.Id);
        Assert.Equal([9], copiedPayload.Numbers!);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Loopback_AllMethods(bool asyncGrain)
    {
        var grain = new TestGrainImpl(asyncGrain);
        var invoker = new LoopbackInvoker(grain);
        var proxy = GrainInterfaceRegistry.CreateProxy<ITestGrain>("loop", invoker);

        Assert.Equal(42, await proxy.BaseAsync(21));
        Assert.Equal("echo:ü", await proxy.EchoAsync("ü"));
        Assert.Equal(5, await proxy.AddAsync(2, 3));
        await proxy.DoAsync("note");
        await proxy.DoValueAsync(9);
        Assert.True(await proxy.PeekAsync());
        var id = Guid.NewGuid();
        await proxy.FireAsync(id);
        await proxy.FireValueAsync();
        await proxy.PingAsync();
        Assert.Equal(1, Assert.Single((await proxy.ComplexAsync([7], [], new TestPayload { Name = "m" }))!)["count"]);
        Assert.Equal(new TestPoint(3, 2, "Friday"), await proxy.StructAsync(new TestPoint(1, 2, null), 2, DayOfWeek.Friday));
        Assert.Null(await proxy.NullableAsync("s", null));
        Assert.Equal("s3", await proxy.NullableAsync("s", [1, 2, 3]));

        await WaitFor(() => grain.Calls.Count >= 13);
        Assert.Contains(grain.Calls, c => c.Method == "FireAsync" && (Guid)c.Args[0]! == id);
        Assert.Contains(grain.Calls, c => c.Method == "DoAsync" && (string?)c.Args[0] == "note");
        Assert.Contains(grain.Calls, c => c.Method == "DoValueAsync" && (long)c.Args[0]! == 9);
        Assert.Contains(grain.Calls, c => c.Method == "StructAsync" && (int?)c.Args[1] == 2 && (DayOfWeek)c.Args[2]! == DayOfWeek.Friday);
        Assert.Equal(13, invoker.Received.Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Exceptions_FlowThroughTaskAndValueTaskProxies(bool asyncGrain)
    {
        var proxy = GrainInterfaceRegistry.CreateProxy<ITestGrain>("err", new LoopbackInvoker(new TestGrainImpl(asyncGrain)));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => proxy.DoAsync("fail"));
        Assert.Equal("DoAsync failed", error.Message);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => proxy.DoValueAsync(-1).AsTask());
    }

    [Fact]
    public async Task OneWay_ReturnsCompletedTask_AndUsesInvokeOneWay()
    {
        var (proxy, invoker) = Recording();
        var id = Guid.NewGuid();
        var task = proxy.FireAsync(id);
        Assert.True(task.IsCompletedSuccessfully);
        await task;
        var request = SingleRequest(invoker, oneWay: true);
        var grain = new TestGrainImpl();
        var none = await ((GrainRequest<None>)request).InvokeAsync(grain);
        Assert.Equal(default, none);
        Assert.Equal(id, (Guid)Assert.Single(grain.Calls).Args[0]!);
        Assert.True(proxy.FireValueAsync().AsTask().IsCompletedSuccessfully);
    }

    [Fact]
    public async Task NoResultMethods_SynchronousGrain_CompleteSynchronously()
    {
        var (proxy, invoker) = Recording();
        await proxy.DoAsync("x");
        var request = (GrainRequest<None>)SingleRequest(invoker);
        var pending = request.InvokeAsync(new TestGrainImpl());
        Assert.True(pending.IsCompletedSuccessfully);
        await request.InvokeAsync(new TestGrainImpl(async: true));
    }

    [Fact]
    public async Task SameSimpleName_InterfacesGetSeparateProxies()
    {
        var invoker = new RecordingInvoker();
        await GrainInterfaceRegistry.CreateProxy<Other.ITestGrain>("o", invoker).NameAsync();
        await GrainInterfaceRegistry.CreateProxy<Nested.ITestGrain>("n", invoker).GetAsync();
        Assert.Equal(2, invoker.Sent.Count);
        Assert.Equal(GrainInterfaceRegistry.GetInterfaceId<Other.ITestGrain>(), invoker.Sent[0].Request.InterfaceId);
        Assert.Equal(GrainInterfaceRegistry.GetInterfaceId<Nested.ITestGrain>(), invoker.Sent[1].Request.InterfaceId);
        Assert.Equal(GrainInterfaceRegistry.ComputeInterfaceId("OrleansSessions.Serialization.Tests.Nested+ITestGrain"), invoker.Sent[1].Request.InterfaceId);
        Assert.NotEqual(invoker.Sent[0].Request.GetType(), invoker.Sent[1].Request.GetType());
    }

    [Fact]
    public async Task PlainGrain_DerivedFromIGrain_IsGenerated()
    {
        var invoker = new RecordingInvoker();
        await GrainInterfaceRegistry.CreateProxy<IPlainGrain>("p", invoker).RoundTripAsync(new TestPayload { Name = "x" });
        Assert.Equal("RoundTripAsync", Assert.Single(invoker.Sent).Request.MethodName);
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        // Poll with a deadline: the condition is met by an asynchronous continuation.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Yield();
            await Task.Delay(TimeSpan.FromMilliseconds(10));
        }
        Assert.True(condition());
    }
}
