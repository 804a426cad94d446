using OrleansSessions.Reminders;
using OrleansSessions.Sessions;

namespace OrleansSessions.Serialization.Tests;

public class GeneratedCodecTests
{
    private static T RoundTrip<T>(T value) => BuiltInCodecTests.RoundTrip(value);

    internal static SessionInfo ActiveSession() => new()
    {
        SessionId = "sess_" + Guid.NewGuid(),
        UserId = "user-ü-1",
        CreatedAt = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero),
        LastActivity = new DateTimeOffset(2024, 1, 2, 3, 14, 5, TimeSpan.Zero),
        ExpiresAt = new DateTimeOffset(2024, 1, 2, 3, 44, 5, TimeSpan.Zero),
        Status = SessionStatus.Active,
    };

    internal static SessionInfo EndedSession() => ActiveSession() with
    {
        Status = SessionStatus.Closed,
        EndedAt = new DateTimeOffset(2024, 1, 2, 3, 20, 0, TimeSpan.FromHours(1)),
        EndReason = EndReason.LogoutAll,
    };

    [Fact]
    public void SessionInfo_Active_RoundTrips()
    {
        var value = ActiveSession();
        var copy = RoundTrip(value);
        Assert.Equal(value, copy);
        Assert.Null(copy.EndedAt);
        Assert.Null(copy.EndReason);
    }

    [Fact]
    public void SessionInfo_Ended_RoundTrips()
    {
        var value = EndedSession();
        var copy = RoundTrip(value);
        Assert.Equal(value, copy);
        Assert.Equal(EndReason.LogoutAll, copy.EndReason);
        Assert.Equal(TimeSpan.FromHours(1), copy.EndedAt!.Value.Offset);
    }

    [Fact]
    public void SessionInfo_Null_RoundTrips()
    {
        Assert.Null(RoundTrip<SessionInfo?>(null));
        Assert.Equal([0], CodecRegistry.Serialize<SessionInfo?>(null));
    }

    [Fact]
    public void SessionInfo_Collections_RoundTrip()
    {
        IReadOnlyList<SessionInfo> list = [ActiveSession(), EndedSession()];
        Assert.Equal(list, RoundTrip(list));
        var withNull = new SessionInfo?[] { ActiveSession(), null };
        Assert.Equal(withNull, RoundTrip(withNull));
    }

    [Fact]
    public void SessionEvent_RoundTrips()
    {
        foreach (var type in Enum.GetValues<SessionEventType>())
        {
            var value = new SessionEvent { Type = type, Session = EndedSession(), At = DateTimeOffset.UtcNow };
            Assert.Equal(value, RoundTrip(value));
        }
        Assert.Null(RoundTrip<SessionEvent?>(null));
    }

    [Fact]
    public void TickStatus_RoundTrips()
    {
        var value = new TickStatus(
            new DateTimeOffset(2024, 3, 4, 5, 6, 7, TimeSpan.Zero),
            TimeSpan.FromMinutes(5),
            new DateTimeOffset(2024, 3, 4, 6, 6, 7, TimeSpan.FromHours(-3)));
        var copy = RoundTrip(value);
        Assert.Equal(value, copy);
        Assert.Equal(value.CurrentTickTime.Offset, copy.CurrentTickTime.Offset);
        Assert.Equal(default(TickStatus), RoundTrip(default(TickStatus)));
    }

    [Fact]
    public void TestPayload_WithBaseProperties_RoundTrips()
    {
        var value = new TestPayload
        {
            Id = 17,
            Tag = "base-tag",
            Name = "payload",
            Numbers = [1, 2, 3],
            Points = new() { ["p"] = new TestPoint(1, -1, "label"), ["q"] = new TestPoint(0, 0, null) },
            Child = new TestPayload { Name = "child", Id = -1 },
            When = DateTimeOffset.UnixEpoch,
        };
        var copy = RoundTrip(value);
        Assert.Equal(17, copy.Id);
        Assert.Equal("base-tag", copy.Tag);
        Assert.Equal("payload", copy.Name);
        Assert.Equal(value.Numbers, copy.Numbers);
        Assert.Equal(value.Points, copy.Points);
        Assert.NotNull(copy.Child);
        Assert.Equal("child", copy.Child.Name);
        Assert.Equal(-1, copy.Child.Id);
        Assert.Null(copy.Child.Child);
        Assert.Null(copy.Child.Numbers);
        Assert.Equal(DateTimeOffset.UnixEpoch, copy.When);
    }

    [Fact]
    public void BaseTypeProperties_AreWrittenFirst()
    {
        var bytes = CodecRegistry.Serialize(new TestPayload { Id = 5, Tag = null, Name = "n" });
        // presence 1, Id = zig-zag 5 = 10, Tag = null string (0), Name = "n" (length+1 = 2, 'n').
        Assert.Equal(new byte[] { 1, 10, 0, 2, (byte)'n' }, bytes[..5]);
    }

    [Fact]
    public void ConstructorBoundGetOnlyProperties_RoundTrip()
    {
        var value = new TestImmutable("key", 42) { Items = ["a", "b"] };
        var copy = RoundTrip(value);
        Assert.Equal("key", copy.Key);
        Assert.Equal(42, copy.Version);
        Assert.Equal(value.Items, copy.Items);
    }

    [Fact]
    public void PositionalRecord_WithExtraInitProperty_RoundTrips()
    {
        var value = new TestPositionalRecord("name", 3) { Flag = true };
        Assert.Equal(value, RoundTrip(value));
    }

    [Fact]
    public void SameSimpleName_InOtherNamespace_HasItsOwnCodec()
    {
        var value = new Other.TestPoint { Value = 2.5 };
        Assert.Equal(2.5, RoundTrip(value).Value);
        Assert.Equal(new TestPoint(1, 2, "x"), RoundTrip(new TestPoint(1, 2, "x")));
    }
}
