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

    private static Orleans.Storage.JsonGrainStorageSerializer Json()
        => new(new Orleans.Serialization.OrleansJsonSerializer(Microsoft.Extensions.Options.Options.Create(new Orleans.Serialization.OrleansJsonSerializerOptions())));

    [Fact]
    public void A_state_stored_as_json_with_type_names_and_ids_still_loads()
    {
        // As Orleans' JSON grain storage serializer wrote a session's state before the state named only its own type.
        const string stored = """
            {"$id":"1","$type":"OrleansSessions.Grains.SessionState, OrleansSessions.Grains","SessionId":"sess_67947fae-10d5-4ba1-9fb6-ece9dd9dc519","UserId":"alice",
            "CreatedAt":"2026-12-08T00:29:17.3936936+00:00","LastActivity":"2026-12-08T00:30:17.3936936+00:00","ExpiresAt":"2026-12-08T01:00:17.3936936+00:00",
            "Status":2,"EndedAt":"2026-12-08T00:40:00+00:00","EndReason":3,
            "Labels":{"$id":"2","$type":"System.Collections.Generic.Dictionary`2[[System.String, System.Private.CoreLib],[System.String, System.Private.CoreLib]], System.Private.CoreLib","channel":"web"},
            "IdleTimeout":"00:10:00","PreviousSessionId":"sess_00000000-10d5-4ba1-9fb6-ece9dd9dc519",
            "Data":{"$id":"3","$type":"OrleansSessions.Grains.SessionDataHeader, OrleansSessions.Grains","Version":3,"LastMessageId":4,"Trimmed":1,"Bytes":120,"AttributesSlot":2,"AttributesBytes":30,"Status":1,"DeleteAt":"2026-12-09T00:40:00+00:00","ChainStart":1,"ReadFrom":3},
            "EventSequence":2,
            "Outbox":{"$type":"System.Collections.Generic.List`1[[OrleansSessions.Grains.PendingSessionEvent, OrleansSessions.Grains]], System.Private.CoreLib","$values":[
            {"$id":"4","$type":"OrleansSessions.Grains.PendingSessionEvent, OrleansSessions.Grains","Sequence":1,"Type":1,"At":"2026-12-08T00:29:17.3936936+00:00"},
            {"$id":"5","$type":"OrleansSessions.Grains.PendingSessionEvent, OrleansSessions.Grains","Sequence":2,"Type":4,"At":"2026-12-08T00:40:00+00:00"}]},
            "Exists":true,"IsLive":false}
            """;
        var json = Json();
        var state = json.Deserialize<SessionState>(new BinaryData(System.Text.Encoding.UTF8.GetBytes(stored)))!;
        AssertLoaded(state);

        // Written again, the state names only its own type and reads back the same.
        var written = json.Serialize(state);
        var text = written.ToString();
        Assert.DoesNotContain("$id", text, StringComparison.Ordinal);
        Assert.DoesNotContain("PendingSessionEvent", text, StringComparison.Ordinal);
        Assert.DoesNotContain("SessionDataHeader", text, StringComparison.Ordinal);
        Assert.DoesNotContain("IsLive", text, StringComparison.Ordinal);
        Assert.True(written.ToArray().Length < stored.Length - 300, text);
        AssertLoaded(json.Deserialize<SessionState>(written)!);

        static void AssertLoaded(SessionState state)
        {
            Assert.Equal("sess_67947fae-10d5-4ba1-9fb6-ece9dd9dc519", state.SessionId);
            Assert.Equal("alice", state.UserId);
            Assert.Equal(new DateTimeOffset(2026, 12, 8, 1, 0, 17, TimeSpan.Zero).AddTicks(3936936), state.ExpiresAt);
            Assert.Equal(SessionStatus.Closed, state.Status);
            Assert.Equal(EndReason.Logout, state.EndReason);
            Assert.Equal("web", state.Labels!["channel"]);
            Assert.Equal(TimeSpan.FromMinutes(10), state.IdleTimeout);
            Assert.Null(state.AbsoluteTimeout);
            Assert.Equal("sess_00000000-10d5-4ba1-9fb6-ece9dd9dc519", state.PreviousSessionId);
            var data = state.Data!;
            Assert.Equal((3, 4, 1, 120, 2, 30, SessionDataStatus.Retained, 1, 3), (data.Version, data.LastMessageId, data.Trimmed, data.Bytes, data.AttributesSlot, data.AttributesBytes, data.Status, data.ChainStart, data.ReadFrom));
            Assert.Equal(new DateTimeOffset(2026, 12, 9, 0, 40, 0, TimeSpan.Zero), data.DeleteAt);
            Assert.Equal(2, state.EventSequence);
            Assert.Equal([1L, 2L], state.Outbox!.Select(e => e.Sequence));
            Assert.Equal([SessionEventType.Created, SessionEventType.Closed], state.Outbox!.Select(e => e.Type));
            Assert.Equal(new DateTimeOffset(2026, 12, 8, 0, 40, 0, TimeSpan.Zero), state.Outbox![1].At);
        }
    }
}
