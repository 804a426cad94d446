using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>The wire and stored types round-trip through Orleans' serializer (generated codecs, [Id] and [Alias]).</summary>
public sealed class SerializationTests
{
    private static readonly Serializer Serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();

    private static readonly SessionInfo Ended = new()
    {
        SessionId = "sess_0e5e4e0f-9b0c-4d6a-8f7e-1a2b3c4d5e6f",
        UserId = "usuario-ñ",
        CreatedAt = new DateTimeOffset(2026, 1, 1, 14, 0, 0, TimeSpan.Zero),
        LastActivity = new DateTimeOffset(2026, 1, 1, 14, 15, 0, TimeSpan.Zero),
        ExpiresAt = new DateTimeOffset(2026, 1, 1, 14, 45, 0, TimeSpan.Zero),
        Status = SessionStatus.Expired,
        EndedAt = new DateTimeOffset(2026, 1, 1, 14, 45, 0, TimeSpan.Zero),
        EndReason = EndReason.IdleTimeout,
    };

    private static T RoundTrip<T>(T value) => Serializer.Deserialize<T>(Serializer.SerializeToArray(value))!;

    [Fact]
    public void SessionInfo_and_SessionEvent_round_trip()
    {
        Assert.Equal(Ended, RoundTrip(Ended));
        var evt = new SessionEvent { Type = SessionEventType.Expired, Session = Ended, At = Ended.EndedAt!.Value.AddMilliseconds(3) };
        Assert.Equal(evt, RoundTrip(evt));
    }

    [Fact]
    public void Stored_states_round_trip()
    {
        var session = SessionState.Create(Ended.SessionId, Ended.UserId, Ended.CreatedAt, new Options.SessionOptions());
        var back = RoundTrip(session);
        Assert.Equal(session.ToInfo(new Options.SessionOptions()), back.ToInfo(new Options.SessionOptions()));

        var user = new UserSessionsState { ActiveSessionIds = ["sess_a", "sess_b"], CurrentSessionId = "sess_b", History = [Ended] };
        var userBack = RoundTrip(user);
        Assert.Equal(user.ActiveSessionIds, userBack.ActiveSessionIds);
        Assert.Equal(user.CurrentSessionId, userBack.CurrentSessionId);
        Assert.Equal(user.History, userBack.History);
    }

    [Fact]
    public void Domain_exceptions_keep_their_type_and_message()
    {
        var back = RoundTrip<Exception>(new SessionExpiredException("Session x has expired."));
        var expired = Assert.IsType<SessionExpiredException>(back);
        Assert.Equal("Session x has expired.", expired.Message);
        Assert.IsType<SessionLimitExceededException>(RoundTrip<Exception>(new SessionLimitExceededException("limit")));
    }
}
