using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

public sealed class UserSessionsStateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 14, 0, 0, TimeSpan.Zero);

    private static SessionInfo Ended(string id, int minute) => new()
    {
        SessionId = id,
        UserId = "u",
        CreatedAt = T0,
        LastActivity = T0,
        ExpiresAt = T0.AddMinutes(minute),
        Status = SessionStatus.Expired,
        EndedAt = T0.AddMinutes(minute),
        EndReason = EndReason.IdleTimeout,
    };

    [Fact]
    public void Record_ended_moves_a_session_to_history_once_and_trims_the_oldest()
    {
        var state = new UserSessionsState { ActiveSessionIds = ["a", "b", "c"] };
        var trimmed = new List<string>();
        Assert.True(state.RecordEnded(Ended("a", 1), historyLimit: 2, trimmed));
        Assert.False(state.RecordEnded(Ended("a", 1), historyLimit: 2, trimmed));
        Assert.True(state.RecordEnded(Ended("b", 2), historyLimit: 2, trimmed));
        Assert.True(state.RecordEnded(Ended("c", 3), historyLimit: 2, trimmed));
        Assert.Empty(state.ActiveSessionIds);
        Assert.Equal(["c", "b"], state.History.Select(h => h.SessionId));
        Assert.Equal(["a"], trimmed);
    }

    [Fact]
    public void Ends_heard_out_of_order_are_kept_newest_first_by_their_end_time()
    {
        var state = new UserSessionsState { ActiveSessionIds = ["a", "b", "c", "d"] };
        var trimmed = new List<string>();
        state.RecordEnded(Ended("b", 2), historyLimit: 3, trimmed);
        state.RecordEnded(Ended("d", 4), historyLimit: 3, trimmed);
        state.RecordEnded(Ended("a", 1), historyLimit: 3, trimmed);
        state.RecordEnded(Ended("c", 3), historyLimit: 3, trimmed);
        Assert.Equal(["d", "c", "b"], state.History.Select(h => h.SessionId));
        Assert.Equal(["a"], trimmed);
    }

    [Fact]
    public void An_end_heard_again_after_it_was_trimmed_does_not_push_out_a_newer_entry()
    {
        var state = new UserSessionsState { ActiveSessionIds = ["a", "b", "c"] };
        var trimmed = new List<string>();
        state.RecordEnded(Ended("a", 5), historyLimit: 2, trimmed);
        state.RecordEnded(Ended("b", 5), historyLimit: 2, trimmed);
        state.RecordEnded(Ended("c", 5), historyLimit: 2, trimmed);
        Assert.Equal(["a", "b"], state.History.Select(h => h.SessionId));
        Assert.Equal(["c"], trimmed);

        // The session's own notice of its end arrives after the user grain recorded it (a bulk end): it was forgotten
        // once already and is not sent to be forgotten again.
        Assert.False(state.RecordEnded(Ended("c", 5), historyLimit: 2, trimmed));
        Assert.Equal(["a", "b"], state.History.Select(h => h.SessionId));
        Assert.Equal(["c"], trimmed);
    }

    [Fact]
    public void Drop_ended_before_removes_only_older_entries_and_a_current_id_among_them()
    {
        var state = new UserSessionsState { CurrentSessionId = "a", History = [Ended("c", 30), Ended("b", 20), Ended("a", 10)] };
        var dropped = new List<string>();
        Assert.False(state.DropEndedBefore(T0.AddMinutes(10), dropped));
        Assert.True(state.DropEndedBefore(T0.AddMinutes(25), dropped));
        Assert.Equal(["c"], state.History.Select(h => h.SessionId));
        Assert.Equal(["a", "b"], dropped);
        Assert.Equal("", state.CurrentSessionId);
        Assert.False(state.IsEmpty);
        Assert.True(state.DropEndedBefore(T0.AddMinutes(31), dropped));
        Assert.True(state.IsEmpty);
    }

    [Fact]
    public void Merge_keeps_what_either_version_learned()
    {
        // Ours: created "d" after reading; the stored version: the janitor recorded "a" and "b" as ended.
        var mine = new UserSessionsState { ActiveSessionIds = ["a", "b", "c", "d"], CurrentSessionId = "d", History = [Ended("x", 0)] };
        var stored = new UserSessionsState { ActiveSessionIds = ["c"], CurrentSessionId = "c", History = [Ended("b", 5), Ended("a", 4), Ended("x", 0)] };
        var trimmed = new List<string>();
        mine.MergeFrom(stored, historyLimit: 10, trimmed);
        Assert.Equal(["c", "d"], mine.ActiveSessionIds);
        Assert.Equal("d", mine.CurrentSessionId);
        Assert.Equal(["b", "a", "x"], mine.History.Select(h => h.SessionId));
        Assert.Empty(trimmed);
    }

    [Fact]
    public void Merge_adds_live_ids_only_the_stored_version_knows_and_trims_to_the_limit()
    {
        var mine = new UserSessionsState { ActiveSessionIds = ["a"], History = [Ended("y", 9)] };
        var stored = new UserSessionsState { ActiveSessionIds = ["a", "e"], CurrentSessionId = "e", History = [Ended("z", 1), Ended("w", 0)] };
        var trimmed = new List<string>();
        mine.MergeFrom(stored, historyLimit: 2, trimmed);
        Assert.Equal(["a", "e"], mine.ActiveSessionIds);
        Assert.Equal("e", mine.CurrentSessionId);
        Assert.Equal(["y", "z"], mine.History.Select(h => h.SessionId));
        Assert.Equal(["w"], trimmed);
    }

    [Fact]
    public void Merge_keeps_this_version_s_retention_row_and_a_legacy_reminder_flag_of_either()
    {
        var mine = new UserSessionsState { History = [Ended("y", 9)], RetentionDue = null };
        var stored = new UserSessionsState { History = [Ended("z", 1)], RetentionDue = T0.AddDays(1), RetentionReminder = true };
        mine.MergeFrom(stored, historyLimit: 10, []);
        // The row the stored version wrote is not this writer's to count on: it checks the row itself before writing.
        Assert.Null(mine.RetentionDue);
        Assert.True(mine.RetentionReminder);

        var other = new UserSessionsState { RetentionDue = T0.AddDays(2) };
        other.MergeFrom(new UserSessionsState { RetentionDue = T0.AddDays(1) }, historyLimit: 10, []);
        Assert.Equal(T0.AddDays(2), other.RetentionDue);
        Assert.False(other.RetentionReminder);
    }

    [Fact]
    public void A_user_state_stored_as_json_with_type_names_and_ids_still_loads()
    {
        // As Orleans' JSON grain storage serializer wrote a user's state before the state named only its own type.
        const string stored = """
            {"$id":"1","$type":"OrleansSessions.Grains.UserSessionsState, OrleansSessions.Grains",
            "ActiveSessionIds":{"$type":"System.Collections.Generic.List`1[[System.String, System.Private.CoreLib]], System.Private.CoreLib","$values":["sess_a"]},
            "CurrentSessionId":"sess_a",
            "History":{"$type":"System.Collections.Generic.List`1[[OrleansSessions.Sessions.SessionInfo, OrleansSessions.Abstractions]], System.Private.CoreLib","$values":[
            {"$id":"2","$type":"OrleansSessions.Sessions.SessionInfo, OrleansSessions.Abstractions","SessionId":"sess_b","UserId":"u","CreatedAt":"2026-01-01T14:00:00+00:00","LastActivity":"2026-01-01T14:00:00+00:00","ExpiresAt":"2026-01-01T14:30:00+00:00","Status":2,"EndedAt":"2026-01-01T14:10:00+00:00","EndReason":3,
            "Labels":{"$id":"3","$type":"System.Collections.Generic.Dictionary`2[[System.String, System.Private.CoreLib],[System.String, System.Private.CoreLib]], System.Private.CoreLib","channel":"web"},"IdleTimeout":"00:30:00","AbsoluteTimeout":"08:00:00"}]},
            "RetentionReminder":true,
            "CreateKeys":{"$type":"System.Collections.Generic.List`1[[OrleansSessions.Grains.CreateKey, OrleansSessions.Grains]], System.Private.CoreLib","$values":[{"$id":"4","$type":"OrleansSessions.Grains.CreateKey, OrleansSessions.Grains","Key":"k1","SessionId":"sess_a","At":"2026-01-01T14:20:00+00:00"}]},
            "Pages":{"$type":"System.Collections.Generic.List`1[[System.Int32, System.Private.CoreLib]], System.Private.CoreLib","$values":[3]},
            "NextPage":4}
            """;
        var json = new Orleans.Storage.JsonGrainStorageSerializer(new Orleans.Serialization.OrleansJsonSerializer(
            Microsoft.Extensions.Options.Options.Create(new Orleans.Serialization.OrleansJsonSerializerOptions())));
        var state = json.Deserialize<UserSessionsState>(new BinaryData(System.Text.Encoding.UTF8.GetBytes(stored)))!;
        AssertLoaded(state);
        var written = json.Serialize(state);
        // (A history entry's labels keep theirs: SessionInfo belongs to the abstractions, which do not know Newtonsoft.)
        Assert.DoesNotContain("SessionInfo", written.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("$values", written.ToString(), StringComparison.Ordinal);
        AssertLoaded(json.Deserialize<UserSessionsState>(written)!);

        // An empty state leaves its lists out, and loads with them empty.
        var empty = json.Serialize(new UserSessionsState());
        Assert.DoesNotContain("History", empty.ToString(), StringComparison.Ordinal);
        var loaded = json.Deserialize<UserSessionsState>(empty)!;
        Assert.True(loaded.IsEmpty);
        Assert.Empty(loaded.CreateKeys);

        static void AssertLoaded(UserSessionsState state)
        {
            Assert.Equal(["sess_a"], state.ActiveSessionIds);
            Assert.Equal("sess_a", state.CurrentSessionId);
            var ended = Assert.Single(state.History);
            Assert.Equal(("sess_b", SessionStatus.Closed, EndReason.Logout), (ended.SessionId, ended.Status, ended.EndReason));
            Assert.Equal(new DateTimeOffset(2026, 1, 1, 14, 10, 0, TimeSpan.Zero), ended.EndedAt);
            Assert.Equal("web", ended.Labels!["channel"]);
            Assert.True(state.RetentionReminder);
            var key = Assert.Single(state.CreateKeys);
            Assert.Equal(("k1", "sess_a"), (key.Key, key.SessionId));
            Assert.Equal([3], state.Pages);
            Assert.Equal(4, state.NextPage);
        }
    }
}
