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
}
