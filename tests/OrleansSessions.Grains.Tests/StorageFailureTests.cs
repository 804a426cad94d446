using System.Data.Common;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using Orleans.Storage;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>
/// A storage backend reports its failures as <see cref="SessionStorageUnavailableException"/> (here: a "driver" whose
/// failures are socket errors); callers classify them as storage_unavailable without knowing any driver.
/// </summary>
public sealed class StorageFailureTests
{
    [Fact]
    public async Task The_decorated_storage_reports_a_failure_of_its_backend_as_storage_unavailable()
    {
        var storage = new StorageFailureGrainStorage(new FailingStorage(new InvalidOperationException("wrapped", new SocketException((int)SocketError.ConnectionRefused))), Translate);
        var state = new GrainState<string>();

        var read = await Assert.ThrowsAsync<SessionStorageUnavailableException>(() => storage.ReadStateAsync("s", GrainId, state));
        Assert.StartsWith("The session storage (test) is unavailable: ", read.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<SessionStorageUnavailableException>(() => storage.WriteStateAsync("s", GrainId, state));
        await Assert.ThrowsAsync<SessionStorageUnavailableException>(() => storage.ClearStateAsync("s", GrainId, state));
    }

    [Fact]
    public async Task The_decorated_storage_lets_conflicts_and_other_exceptions_through_as_they_are()
    {
        var conflict = new InconsistentStateException("Version conflict", new SocketException());
        var state = new GrainState<string>();
        Assert.Same(conflict, await Assert.ThrowsAsync<InconsistentStateException>(
            () => new StorageFailureGrainStorage(new FailingStorage(conflict), _ => new SessionStorageUnavailableException()).WriteStateAsync("s", GrainId, state)));
        var bug = new InvalidOperationException("not the storage");
        Assert.Same(bug, await Assert.ThrowsAsync<InvalidOperationException>(
            () => new StorageFailureGrainStorage(new FailingStorage(bug), Translate).ReadStateAsync("s", GrainId, state)));
    }

    [Fact]
    public void Classify_finds_unavailable_storage_inside_Orleans_storage_bridge_and_knows_no_driver()
    {
        var bridged = new OrleansException("Error from storage provider during ReadStateAsync", new SessionStorageUnavailableException("The session storage (test) is unavailable: refused"));
        Assert.Equal(new SessionFailure(SessionFailureKind.Unavailable, "storage_unavailable", "The session storage (test) is unavailable: refused"), SessionFailure.Classify(bridged));
        // Drivers' exceptions are their backends' to report; unreported, they are the service's own fault.
        Assert.Equal(SessionFailureKind.Unknown, SessionFailure.Classify(new DriverException()).Kind);
        Assert.Equal(SessionFailureKind.Unknown, SessionFailure.Classify(new OrleansException("bridge", new DriverException())).Kind);
    }

    [Fact]
    public async Task A_state_read_failing_while_a_grain_activates_reaches_the_caller_as_storage_unavailable()
    {
        var store = new SharedGrainStorage.Store();
        await using var cluster = await SessionCluster.StartAsync(new FakeTimeProvider(SessionCluster.Start), store: store,
            configureSilo: silo => silo.Services.AddGrainStorageFailureTranslation(SessionStorage.Name, Translate));
        store.ReadFault = (stateName, _) => stateName == SessionStorage.UserStateName ? new SocketException((int)SocketError.ConnectionRefused) : null;

        // No call filter runs: the grain never activated.
        var error = await Assert.ThrowsAnyAsync<Exception>(() => cluster.Client.GetGrain<IUserSessionsGrain>("outage").GetActiveSessionsAsync());
        var failure = SessionFailure.Classify(error);
        Assert.True(failure.Code == "storage_unavailable", $"{error.GetType().FullName}: {error.Message} classified {failure}");
        Assert.StartsWith("The session storage (test) is unavailable: ", failure.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_state_write_failing_in_a_session_grain_call_reaches_the_caller_as_storage_unavailable()
    {
        var store = new SharedGrainStorage.Store();
        await using var cluster = await SessionCluster.StartAsync(new FakeTimeProvider(SessionCluster.Start), store: store,
            configureSilo: silo => silo.Services.AddGrainStorageFailureTranslation(SessionStorage.Name, Translate));
        store.WriteFault = (_, _) => new SocketException((int)SocketError.ConnectionRefused);

        var error = await Assert.ThrowsAsync<SessionStorageUnavailableException>(() => cluster.Client.GetGrain<IUserSessionsGrain>("outage").CreateSessionAsync());
        Assert.StartsWith("The session storage (test) is unavailable: ", error.Message, StringComparison.Ordinal);
    }

    private static readonly GrainId GrainId = GrainId.Create("test", "storage-failure");

    private static SessionStorageUnavailableException? Translate(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is SocketException socket)
            {
                return new SessionStorageUnavailableException($"The session storage (test) is unavailable: {socket.Message}");
            }
        }
        return null;
    }

    private sealed class DriverException() : DbException("connection refused");

    private sealed class FailingStorage(Exception failure) : IGrainStorage
    {
        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Task.FromException(failure);

        public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Task.FromException(failure);

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Task.FromException(failure);
    }
}
