using OrleansSessions.Serialization;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

public sealed class StateCodecTests
{
    [Fact]
    public void Session_state_round_trips_through_its_generated_codec()
    {
        var state = new SessionState
        {
            SessionId = SessionKeys.NewSessionId(),
            UserId = "user",
            CreatedAt = new DateTimeOffset(2026, 1, 1, 14, 0, 0, TimeSpan.Zero),
            LastActivity = new DateTimeOffset(2026, 1, 1, 14, 15, 0, TimeSpan.Zero),
            ExpiresAt = new DateTimeOffset(2026, 1, 1, 14, 45, 0, TimeSpan.Zero),
            Status = SessionStatus.Expired,
            EndedAt = new DateTimeOffset(2026, 1, 1, 14, 45, 0, TimeSpan.Zero),
            EndReason = EndReason.IdleTimeout,
        };
        var copy = CodecRegistry.Deserialize<SessionState>(CodecRegistry.Serialize(state));
        Assert.Equal(state.SessionId, copy.SessionId);
        Assert.Equal(state.UserId, copy.UserId);
        Assert.Equal(state.CreatedAt, copy.CreatedAt);
        Assert.Equal(state.LastActivity, copy.LastActivity);
        Assert.Equal(state.ExpiresAt, copy.ExpiresAt);
        Assert.Equal(state.Status, copy.Status);
        Assert.Equal(state.EndedAt, copy.EndedAt);
        Assert.Equal(state.EndReason, copy.EndReason);

        var live = CodecRegistry.Deserialize<SessionState>(CodecRegistry.Serialize(new SessionState { SessionId = "x", UserId = "y" }));
        Assert.Null(live.EndedAt);
        Assert.Null(live.EndReason);
    }

    [Fact]
    public void User_sessions_state_round_trips_through_its_generated_codec()
    {
        var ended = new SessionInfo { SessionId = "sess_a", UserId = "u", Status = SessionStatus.Closed, EndReason = EndReason.Logout, EndedAt = DateTimeOffset.UnixEpoch };
        var state = new UserSessionsState { ActiveSessionIds = ["sess_b", "sess_c"], CurrentSessionId = "sess_c", History = [ended] };
        var copy = CodecRegistry.Deserialize<UserSessionsState>(CodecRegistry.Serialize(state));
        Assert.Equal(state.ActiveSessionIds, copy.ActiveSessionIds);
        Assert.Equal("sess_c", copy.CurrentSessionId);
        Assert.Equal(ended, Assert.Single(copy.History));
    }
}
