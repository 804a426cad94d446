using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

public sealed class SessionKeysTests
{
    [Fact]
    public void New_session_ids_are_prefixed_random_v4_uuids()
    {
        var ids = Enumerable.Range(0, 1000).Select(_ => SessionKeys.NewSessionId()).ToList();
        Assert.All(ids, id => Assert.Matches("^sess_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", id));
        Assert.All(ids, id => Assert.True(SessionKeys.IsValidSessionId(id)));
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("sess_")]
    [InlineData("sess_0e5e4e0f-9b0c-4d6a-8f7e-1a2b3c4d5e6")]
    [InlineData("sess_0e5e4e0f-9b0c-4d6a-8f7e-1a2b3c4d5e6f0")]
    [InlineData("SESS_0e5e4e0f-9b0c-4d6a-8f7e-1a2b3c4d5e6f")]
    [InlineData("sess_0e5e4e0f_9b0c-4d6a-8f7e-1a2b3c4d5e6f")]
    [InlineData("sess_0e5e4e0g-9b0c-4d6a-8f7e-1a2b3c4d5e6f")]
    [InlineData("sess_0e5e4e0f-9b0c-5d6a-8f7e-1a2b3c4d5e6f")]
    [InlineData("sess_0e5e4e0f-9b0c-4d6a-7f7e-1a2b3c4d5e6f")]
    public void Malformed_session_ids_are_rejected(string? id) => Assert.False(SessionKeys.IsValidSessionId(id));

    [Theory]
    [InlineData("sess_0e5e4e0f-9b0c-4d6a-8f7e-1a2b3c4d5e6f")]
    [InlineData("sess_00000000-0000-4000-b000-000000000000")]
    public void Well_formed_session_ids_are_accepted(string id) => Assert.True(SessionKeys.IsValidSessionId(id));

    [Fact]
    public void User_ids_have_one_to_128_characters_without_control_characters()
    {
        Assert.True(SessionKeys.IsValidUserId("a"));
        Assert.True(SessionKeys.IsValidUserId(new string('x', 128)));
        Assert.True(SessionKeys.IsValidUserId("alvaro_123"));
        Assert.False(SessionKeys.IsValidUserId(null));
        Assert.False(SessionKeys.IsValidUserId(""));
        Assert.False(SessionKeys.IsValidUserId(new string('x', 129)));
        Assert.False(SessionKeys.IsValidUserId("a\u0007b"));
        Assert.False(SessionKeys.IsValidUserId("a\u007fb"));
        Assert.Throws<ArgumentException>(() => SessionKeys.ThrowIfInvalidUserId("bad\r\n"));
    }
}
