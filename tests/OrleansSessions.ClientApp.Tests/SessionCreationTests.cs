using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using OrleansSessions.Sessions;

namespace OrleansSessions.ClientApp.Tests;

/// <summary>The client library's retried create: one idempotency key for every try, retries only when no answer came.</summary>
public sealed class SessionCreationTests
{
    private static readonly SessionInfo Created = new()
    {
        SessionId = SessionKeys.NewSessionId(),
        UserId = "u",
        CreatedAt = DateTimeOffset.UnixEpoch,
        LastActivity = DateTimeOffset.UnixEpoch,
        ExpiresAt = DateTimeOffset.UnixEpoch.AddMinutes(30),
        Status = SessionStatus.Active,
    };

    [Fact]
    public async Task Lost_answers_are_retried_with_the_same_key()
    {
        var user = new ScriptedUser(new SiloUnavailableException("silo died"), new TimeoutException("no answer"));
        var clock = new FakeTimeProvider();

        var info = await RunAsync(clock, user.CreateSessionWithRetriesAsync(idempotencyKey: null, attempts: 3, time: clock));

        Assert.Equal(Created.SessionId, info.SessionId);
        Assert.Equal(3, user.Keys.Count);
        Assert.Single(user.Keys.Distinct());
        Assert.True(SessionKeys.IsValidIdempotencyKey(user.Keys[0]));
    }

    [Fact]
    public async Task A_given_key_is_used_and_the_last_failure_propagates_after_the_last_try()
    {
        var user = new ScriptedUser(new SiloUnavailableException("1"), new SiloUnavailableException("2"));
        var clock = new FakeTimeProvider();

        var failure = await Assert.ThrowsAsync<SiloUnavailableException>(() => RunAsync(clock, user.CreateSessionWithRetriesAsync("order-7", attempts: 2, time: clock)));

        Assert.Equal("2", failure.Message);
        Assert.Equal(["order-7", "order-7"], user.Keys);
    }

    [Fact]
    public async Task An_answer_that_is_a_refusal_is_not_retried()
    {
        var user = new ScriptedUser(new SessionLimitExceededException("at the limit"));
        var clock = new FakeTimeProvider();

        await Assert.ThrowsAsync<SessionLimitExceededException>(() => RunAsync(clock, user.CreateSessionWithRetriesAsync(null, time: clock)));

        Assert.Single(user.Keys);
    }

    [Fact]
    public async Task A_create_request_is_retried_with_the_same_key_and_request()
    {
        var user = new ScriptedUser(new SiloUnavailableException("silo died"));
        var clock = new FakeTimeProvider();
        var request = new SessionCreateRequest { ContinueFrom = SessionKeys.NewSessionId(), IdleTimeout = TimeSpan.FromMinutes(5) };

        var info = await RunAsync(clock, user.CreateSessionWithRetriesAsync(request, idempotencyKey: null, time: clock));

        Assert.Equal(Created.SessionId, info.SessionId);
        Assert.Equal(2, user.Keys.Count);
        Assert.Single(user.Keys.Distinct());
        Assert.Equal([request, request], user.Requests);
    }

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task A_refused_create_request_is_not_retried(Exception refusal)
    {
        var user = new ScriptedUser(refusal);
        var clock = new FakeTimeProvider();

        var thrown = await Assert.ThrowsAnyAsync<Exception>(() => RunAsync(clock, user.CreateSessionWithRetriesAsync(new SessionCreateRequest { ContinueFrom = SessionKeys.NewSessionId() }, "key-1", time: clock)));

        Assert.Same(refusal, thrown);
        Assert.Equal(["key-1"], user.Keys);
    }

    public static TheoryData<Exception> Refusals() => new()
    {
        new ContinuationNotAllowedException("live"),
        new SessionDataDeletedException("gone"),
        new SessionNotFoundException("unknown"),
        new InvalidSessionDataException(InvalidSessionDataException.InvalidLabels, "labels"),
    };

    [Fact]
    public async Task A_null_create_request_is_an_argument_error()
        => await Assert.ThrowsAsync<ArgumentNullException>(() => new ScriptedUser().CreateSessionWithRetriesAsync((SessionCreateRequest)null!, null));

    [Fact]
    public async Task An_invalid_key_is_an_argument_error()
        => await Assert.ThrowsAsync<ArgumentException>(() => new ScriptedUser().CreateSessionWithRetriesAsync("has space"));

    /// <summary>Advances the fake clock until <paramref name="call"/> completes, so its back-off waits pass at once.</summary>
    private static async Task<T> RunAsync<T>(FakeTimeProvider clock, Task<T> call)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!call.IsCompleted && DateTime.UtcNow < deadline)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.Yield();
        }
        return await call;
    }

    /// <summary>A user grain whose idempotent creates fail with the given exceptions, in order, then succeed.</summary>
    private sealed class ScriptedUser(params Exception[] failures) : IUserSessionsGrain
    {
        private int _calls;

        public List<string> Keys { get; } = [];

        public List<SessionCreateRequest> Requests { get; } = [];

        public Task<SessionInfo> CreateSessionAsync(string idempotencyKey)
        {
            Keys.Add(idempotencyKey);
            var call = _calls++;
            return call < failures.Length ? Task.FromException<SessionInfo>(failures[call]) : Task.FromResult(Created);
        }

        public Task<SessionInfo> CreateSessionAsync(SessionCreateRequest request, string? idempotencyKey = null)
        {
            Requests.Add(request);
            return CreateSessionAsync(idempotencyKey!);
        }

        public Task<SessionInfo> CreateSessionAsync() => throw new NotSupportedException();


        public Task<IReadOnlyList<SessionInfo>> GetActiveSessionsAsync() => throw new NotSupportedException();

        public Task<SessionPage> GetActiveSessionsPageAsync(int limit, string? after) => throw new NotSupportedException();

        public Task<SessionInfo?> GetCurrentSessionAsync() => throw new NotSupportedException();

        public Task<IReadOnlyList<SessionInfo>> GetHistoryAsync(int limit) => throw new NotSupportedException();

        public Task<int> CloseAllAsync() => throw new NotSupportedException();
    }
}
