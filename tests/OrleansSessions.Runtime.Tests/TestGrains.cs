using System.Collections.Concurrent;
using OrleansSessions.Hosting;
using OrleansSessions.Reminders;
using OrleansSessions.Runtime.Membership;
using OrleansSessions.Storage;
using OrleansSessions.Timers;

namespace OrleansSessions.Runtime.Tests;

public interface ICounterGrain : IGrainWithStringKey
{
    Task<int> IncrementAsync();

    ValueTask<int> GetAsync();

    Task<string> GetSiloAsync();

    Task<int> GetActivationNumberAsync();
}

public interface IConcurrencyGrain : IGrainWithStringKey
{
    Task WorkAsync(int delayMs);

    Task<int> GetViolationsAsync();

    Task<int> GetCallsAsync();

    Task<List<int>> GetOrderAsync();

    Task RecordAsync(int value);
}

public interface ITimerGrain : IGrainWithStringKey
{
    Task StartAsync(TimeSpan dueTime, TimeSpan period, bool keepAlive, int callbackDelayMs);

    Task ChangeAsync(TimeSpan dueTime, TimeSpan period);

    Task StopAsync();

    Task<int> GetTicksAsync();

    Task<int> GetOverlapsAsync();

    Task DeactivateAsync();
}

public interface IReminderTestGrain : IGrainWithStringKey, IRemindable
{
    Task StartAsync(TimeSpan period);

    Task StopAsync();

    Task<bool> HasReminderAsync();

    Task<string> GetSiloAsync();
}

public interface ICycleGrain : IGrainWithStringKey
{
    Task<string> CallThroughAsync(string otherKey);

    Task<string> CallBackAsync(string originKey);

    Task<string> PongAsync();
}

public interface IFaultyGrain : IGrainWithStringKey
{
    Task HangAsync();

    Task ThrowInvalidOperationAsync(string message);

    Task ThrowCustomAsync(string message);

    Task<int> EchoLengthAsync(string text);
}

public interface IStatefulGrain : IGrainWithStringKey
{
    Task SetAsync(string value);

    Task<string?> GetAsync();

    Task<string?> GetEtagAsync();
}

public sealed class CustomGrainException : Exception
{
    public CustomGrainException()
    {
    }

    public CustomGrainException(string message) : base(message)
    {
    }

    public CustomGrainException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

[GenerateSerializer]
public sealed class StatefulState
{
    public string? Value { get; set; }
}

/// <summary>Shared observations of test grains, which may run on any silo of the in-process cluster.</summary>
public static class Observations
{
    public static readonly ConcurrentDictionary<string, int> ReminderTicks = new();

    public static readonly ConcurrentDictionary<string, ConcurrentBag<string>> ReminderSilos = new();

    private static int s_activations;

    public static int NextActivation() => Interlocked.Increment(ref s_activations);

    public static readonly ConcurrentDictionary<string, int> Deactivations = new();
}

public sealed class CounterGrain(LocalSilo silo) : Grain, ICounterGrain
{
    private int _count;
    private int _activation;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _activation = Observations.NextActivation();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        Observations.Deactivations.AddOrUpdate(GetPrimaryKeyString(), 1, (_, n) => n + 1);
        return Task.CompletedTask;
    }

    public Task<int> IncrementAsync() => Task.FromResult(++_count);

    public ValueTask<int> GetAsync() => ValueTask.FromResult(_count);

    public Task<string> GetSiloAsync() => Task.FromResult(silo.Address.ToString());

    public Task<int> GetActivationNumberAsync() => Task.FromResult(_activation);
}

public sealed class ConcurrencyGrain : Grain, IConcurrencyGrain
{
    private int _inside;
    private int _violations;
    private int _calls;
    private readonly List<int> _order = [];

    public async Task WorkAsync(int delayMs)
    {
        if (Interlocked.Increment(ref _inside) != 1)
        {
            _violations++;
        }
        _calls++;
        await Task.Delay(delayMs);
        await Task.Yield();
        Interlocked.Decrement(ref _inside);
    }

    public Task<int> GetViolationsAsync() => Task.FromResult(_violations);

    public Task<int> GetCallsAsync() => Task.FromResult(_calls);

    public Task<List<int>> GetOrderAsync() => Task.FromResult(_order.ToList());

    public Task RecordAsync(int value)
    {
        _order.Add(value);
        return Task.CompletedTask;
    }
}

public sealed class TimerGrain : Grain, ITimerGrain
{
    private IGrainTimer? _timer;
    private int _ticks;
    private int _inside;
    private int _overlaps;
    private int _delayMs;

    public Task StartAsync(TimeSpan dueTime, TimeSpan period, bool keepAlive, int callbackDelayMs)
    {
        _delayMs = callbackDelayMs;
        _timer = RegisterGrainTimer(OnTickAsync, new GrainTimerCreationOptions(dueTime, period) { KeepAlive = keepAlive });
        return Task.CompletedTask;
    }

    private async Task OnTickAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _inside) != 1)
        {
            _overlaps++;
        }
        _ticks++;
        if (_delayMs > 0)
        {
            await Task.Delay(_delayMs, cancellationToken);
        }
        Interlocked.Decrement(ref _inside);
    }

    public Task ChangeAsync(TimeSpan dueTime, TimeSpan period)
    {
        _timer!.Change(dueTime, period);
        return Task.CompletedTask;
    }

    public Task StopAsync()
    {
        _timer?.Dispose();
        return Task.CompletedTask;
    }

    public Task<int> GetTicksAsync() => Task.FromResult(_ticks);

    public Task<int> GetOverlapsAsync() => Task.FromResult(_overlaps);

    public Task DeactivateAsync()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }
}

public sealed class ReminderTestGrain(LocalSilo silo) : Grain, IReminderTestGrain
{
    public async Task StartAsync(TimeSpan period) => await RegisterOrUpdateReminder("tick", period, period);

    public async Task StopAsync()
    {
        var reminder = await GetReminder("tick");
        if (reminder is not null)
        {
            await UnregisterReminder(reminder);
        }
    }

    public async Task<bool> HasReminderAsync() => await GetReminder("tick") is not null;

    public Task<string> GetSiloAsync() => Task.FromResult(silo.Address.ToString());

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        Observations.ReminderTicks.AddOrUpdate(GetPrimaryKeyString(), 1, (_, n) => n + 1);
        Observations.ReminderSilos.GetOrAdd(GetPrimaryKeyString(), _ => []).Add(silo.Address.ToString());
        return Task.CompletedTask;
    }
}

public sealed class CycleGrain : Grain, ICycleGrain
{
    public Task<string> CallThroughAsync(string otherKey)
        => GrainFactory.GetGrain<ICycleGrain>(otherKey).CallBackAsync(GetPrimaryKeyString());

    public async Task<string> CallBackAsync(string originKey)
        => "via " + GetPrimaryKeyString() + ": " + await GrainFactory.GetGrain<ICycleGrain>(originKey).PongAsync();

    public Task<string> PongAsync() => Task.FromResult("pong from " + GetPrimaryKeyString());
}

public sealed class FaultyGrain : Grain, IFaultyGrain
{
    public Task HangAsync() => Task.Delay(Timeout.Infinite);

    public Task ThrowInvalidOperationAsync(string message) => throw new InvalidOperationException(message);

    public async Task ThrowCustomAsync(string message)
    {
        await Task.Yield();
        throw new CustomGrainException(message);
    }

    public Task<int> EchoLengthAsync(string text) => Task.FromResult(text.Length);
}

public sealed class StatefulGrain : Grain, IStatefulGrain
{
    private readonly IPersistentState<StatefulState> _state;

    public StatefulGrain(IPersistentStateFactory factory)
    {
        _state = factory.Create<StatefulState>(GrainContext, "stateful");
    }

    public async Task SetAsync(string value)
    {
        _state.State.Value = value;
        await _state.WriteStateAsync();
    }

    public Task<string?> GetAsync() => Task.FromResult(_state.State.Value);

    public Task<string?> GetEtagAsync() => Task.FromResult(_state.Etag);
}

public static class TestGrainRegistration
{
    public static ISiloBuilder AddTestGrains(this ISiloBuilder silo)
        => silo.AddGrain<ICounterGrain, CounterGrain>()
            .AddGrain<IConcurrencyGrain, ConcurrencyGrain>()
            .AddGrain<ITimerGrain, TimerGrain>()
            .AddGrain<IReminderTestGrain, ReminderTestGrain>()
            .AddGrain<ICycleGrain, CycleGrain>()
            .AddGrain<IFaultyGrain, FaultyGrain>()
            .AddGrain<IStatefulGrain, StatefulGrain>();
}
