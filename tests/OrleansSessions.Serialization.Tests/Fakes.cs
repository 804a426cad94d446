using System.Buffers;
using OrleansSessions.Invocation;
using OrleansSessions.Reminders;
using OrleansSessions.Sessions;

namespace OrleansSessions.Serialization.Tests;

/// <summary>Records the requests a proxy sends and answers them with default results.</summary>
internal sealed class RecordingInvoker : IGrainCallInvoker
{
    public List<(GrainId Target, GrainRequest Request, bool OneWay)> Sent { get; } = [];

    public ValueTask<TResult> InvokeAsync<TResult>(GrainId target, GrainRequest<TResult> request)
    {
        Sent.Add((target, request, false));
        return new ValueTask<TResult>(default(TResult)!);
    }

    public void InvokeOneWay(GrainId target, GrainRequest request) => Sent.Add((target, request, true));
}

/// <summary>
/// Sends every request through the wire format to <see cref="Target"/>: writes the arguments, creates an
/// empty request from the registry, reads the arguments into it, invokes it and round-trips the result.
/// </summary>
internal sealed class LoopbackInvoker(object target) : IGrainCallInvoker
{
    public object Target { get; } = target;

    public List<GrainRequest> Received { get; } = [];

    public List<Task> OneWayCalls { get; } = [];

    public async ValueTask<TResult> InvokeAsync<TResult>(GrainId target, GrainRequest<TResult> request)
    {
        var copy = (GrainRequest<TResult>)Wire.Copy(request);
        Received.Add(copy);
        var output = new ArrayBufferWriter<byte>();
        await copy.InvokeAndWriteResultAsync(Target, output);
        return GrainRequest<TResult>.ReadResult(output.WrittenSpan);
    }

    public void InvokeOneWay(GrainId target, GrainRequest request)
    {
        var copy = Wire.Copy(request);
        Received.Add(copy);
        OneWayCalls.Add(copy.InvokeAndWriteResultAsync(Target, new ArrayBufferWriter<byte>()).AsTask());
    }
}

internal static class Wire
{
    public static byte[] WriteArguments(GrainRequest request)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new CodecWriter(buffer);
        request.WriteArguments(ref writer);
        writer.Commit();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Creates an empty request of the same method through the registry and reads the arguments into it.</summary>
    public static GrainRequest Copy(GrainRequest request)
    {
        var bytes = WriteArguments(request);
        var info = GrainInterfaceRegistry.Find(request.InterfaceId);
        Assert.NotNull(info);
        var copy = info.RequestFactory(request.MethodId);
        Assert.NotNull(copy);
        Assert.Equal(request.GetType(), copy.GetType());
        var reader = new CodecReader(bytes);
        copy.ReadArguments(ref reader);
        Assert.Equal(0, reader.Remaining);
        Assert.Equal(bytes, WriteArguments(copy));
        return copy;
    }
}

/// <summary>A grain implementation of the Abstractions interfaces that records every call.</summary>
internal sealed class RecordingGrain : ISessionGrain, IUserSessionsGrain, IJanitorGrain, IRemindable
{
    public List<(string Method, object?[] Args)> Calls { get; } = [];

    public static readonly SessionInfo Result = GeneratedCodecTests.EndedSession();

    private T Record<T>(T result, string method, params object?[] args)
    {
        Calls.Add((method, args));
        return result;
    }

    Task<SessionInfo> ISessionGrain.CreateAsync(string userId) => Record(Task.FromResult(Result), "CreateAsync", userId);

    ValueTask<bool> ISessionGrain.IsActiveAsync() => Record(new ValueTask<bool>(true), "IsActiveAsync");

    ValueTask<SessionInfo> ISessionGrain.TouchAsync() => Record(new ValueTask<SessionInfo>(Result), "TouchAsync");

    ValueTask<SessionInfo> ISessionGrain.GetAsync() => Record(new ValueTask<SessionInfo>(Result), "GetAsync");

    Task<SessionInfo> ISessionGrain.CloseAsync() => Record(Task.FromResult(Result), "CloseAsync");

    Task<SessionInfo?> ISessionGrain.EndAsync(EndReason reason) => Record(Task.FromResult<SessionInfo?>(null), "EndAsync", reason);

    Task<bool> ISessionGrain.ExpireIfDueAsync() => Record(Task.FromResult(true), "ExpireIfDueAsync");

    Task ISessionGrain.ForgetAsync() => Record(Task.CompletedTask, "ForgetAsync");

    Task ISessionGrain.WakeAsync() => Record(Task.CompletedTask, "WakeAsync");

    Task<SessionInfo> IUserSessionsGrain.CreateSessionAsync() => Record(Task.FromResult(Result), "CreateSessionAsync");

    Task<IReadOnlyList<SessionInfo>> IUserSessionsGrain.GetActiveSessionsAsync()
        => Record(Task.FromResult<IReadOnlyList<SessionInfo>>([Result]), "GetActiveSessionsAsync");

    Task<SessionInfo?> IUserSessionsGrain.GetCurrentSessionAsync() => Record(Task.FromResult<SessionInfo?>(Result), "GetCurrentSessionAsync");

    Task<IReadOnlyList<SessionInfo>> IUserSessionsGrain.GetHistoryAsync(int limit)
        => Record(Task.FromResult<IReadOnlyList<SessionInfo>>([]), "GetHistoryAsync", limit);

    Task<int> IUserSessionsGrain.CloseAllAsync() => Record(Task.FromResult(3), "CloseAllAsync");

    Task IUserSessionsGrain.SessionEndedAsync(SessionInfo session) => Record(Task.CompletedTask, "SessionEndedAsync", session);

    Task<int> IJanitorGrain.RunNowAsync() => Record(Task.FromResult(7), "RunNowAsync");

    Task IJanitorGrain.EnsureStartedAsync() => Record(Task.CompletedTask, "EnsureStartedAsync");

    Task IRemindable.ReceiveReminder(string reminderName, TickStatus status) => Record(Task.CompletedTask, "ReceiveReminder", reminderName, status);
}
