using OrleansSessions.Grains.Options;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

/// <summary>The session's lifetime rules on plain values: no grain, no cluster, no clock but the times given.</summary>
public sealed class SessionStateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 14, 0, 0, TimeSpan.Zero);

    private static readonly SessionOptions Options = new() { IdleTimeout = TimeSpan.FromMinutes(30), AbsoluteTimeout = TimeSpan.FromHours(1) };

    [Fact]
    public void A_new_session_is_live_until_the_idle_timeout()
    {
        var state = SessionState.Create("sess_x", "alice", T0, Options);
        Assert.True(state.IsLive);
        Assert.Equal(T0.AddMinutes(30), state.ExpiresAt);
        Assert.True(state.IsActiveAt(T0.AddMinutes(30).AddTicks(-1)));
        Assert.False(state.IsActiveAt(T0.AddMinutes(30)));
        Assert.True(state.IsDueAt(T0.AddMinutes(30)));
        Assert.False(state.IsDueAt(T0.AddMinutes(30).AddTicks(-1)));
    }

    [Fact]
    public void Touch_slides_the_deadline_up_to_the_absolute_cap_and_returns_the_previous_one()
    {
        var state = SessionState.Create("sess_x", "alice", T0, Options);
        Assert.Equal(T0.AddMinutes(30), state.Touch(T0.AddMinutes(15), Options));
        Assert.Equal(T0.AddMinutes(15), state.LastActivity);
        Assert.Equal(T0.AddMinutes(45), state.ExpiresAt);
        state.Touch(T0.AddMinutes(50), Options);
        Assert.Equal(T0.AddHours(1), state.ExpiresAt);
    }

    [Fact]
    public void The_timeout_reason_is_absolute_only_when_the_deadline_is_the_cap()
    {
        var state = SessionState.Create("sess_x", "alice", T0, Options);
        Assert.Equal(EndReason.IdleTimeout, state.TimeoutReason(Options));
        state.Touch(T0.AddMinutes(40), Options);
        Assert.Equal(EndReason.AbsoluteTimeout, state.TimeoutReason(Options));
    }

    [Fact]
    public void A_timeout_ends_at_the_deadline_however_late_it_is_processed_and_a_logout_at_the_call()
    {
        var expired = SessionState.Create("sess_x", "alice", T0, Options);
        expired.End(EndReason.IdleTimeout, T0.AddHours(3), Options);
        Assert.Equal(SessionStatus.Expired, expired.Status);
        Assert.Equal(T0.AddMinutes(30), expired.EndedAt);
        Assert.False(expired.IsLive);
        Assert.False(expired.IsDueAt(T0.AddHours(4)));

        var closed = SessionState.Create("sess_y", "alice", T0, Options);
        closed.End(EndReason.Logout, T0.AddMinutes(5), Options);
        Assert.Equal(SessionStatus.Closed, closed.Status);
        Assert.Equal(T0.AddMinutes(5), closed.EndedAt);
        Assert.Equal(EndReason.Logout, closed.ToInfo(Options).EndReason);

        closed.UndoEnd();
        Assert.True(closed.IsLive);
        Assert.Null(closed.EndedAt);
    }

    [Theory]
    [InlineData(EndReason.IdleTimeout, SessionEventType.Expired)]
    [InlineData(EndReason.AbsoluteTimeout, SessionEventType.Expired)]
    [InlineData(EndReason.Logout, SessionEventType.Closed)]
    [InlineData(EndReason.LogoutAll, SessionEventType.Closed)]
    [InlineData(EndReason.Evicted, SessionEventType.Evicted)]
    public void Each_end_reason_publishes_its_event(EndReason reason, SessionEventType expected)
        => Assert.Equal(expected, SessionState.EventFor(reason));

    [Fact]
    public void The_warning_is_due_before_the_deadline_and_off_at_zero()
    {
        var state = SessionState.Create("sess_x", "alice", T0, Options);
        Assert.Equal(T0.AddMinutes(28), state.WarningAt(TimeSpan.FromMinutes(2)));
        Assert.Null(state.WarningAt(TimeSpan.Zero));
    }

    [Fact]
    public void An_empty_state_is_no_session()
    {
        var state = new SessionState();
        Assert.False(state.Exists);
        Assert.False(state.IsLive);
        Assert.False(state.IsActiveAt(T0));
    }
}
