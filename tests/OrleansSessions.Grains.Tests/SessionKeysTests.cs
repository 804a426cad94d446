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

    [Theory]
    [InlineData("team/alice")]
    [InlineData("team%2Falice")]
    [InlineData("back\\slash")]
    [InlineData("what?")]
    [InlineData("hash#tag")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("zero\u200Bwidth")]
    [InlineData("joiner\u200Dx")]
    [InlineData("rtl\u202Emark")]
    [InlineData("iso\u2066late")]
    [InlineData("\uFEFFbom")]
    [InlineData("soft\u00ADhyphen")]
    [InlineData("private\uE000use")]
    [InlineData("line\u2028sep")]
    [InlineData("e\u0301")]          // NFC is "\u00E9"
    [InlineData("\u212B")]           // ANGSTROM SIGN: NFC is U+00C5
    [InlineData("\u1100\u1161")]     // conjoining jamo: NFC is the syllable U+AC00
    [InlineData("a\u0301\u0323x")]  // acute then below-dot: out of canonical order (and acute is "maybe")
    [InlineData("\u0915\u094D\u093C")]  // virama (9) before nukta (7): out of canonical order
    public void User_ids_a_url_segment_cannot_carry_or_that_are_not_nfc_are_rejected(string userId)
    {
        Assert.False(SessionKeys.IsValidUserId(userId));
        var ex = Assert.Throws<ArgumentException>(() => SessionKeys.ThrowIfInvalidUserId(userId));
        Assert.StartsWith(SessionKeys.UserIdRule, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void User_ids_with_an_unpaired_surrogate_are_rejected()
    {
        // Not as InlineData: the test runner's serialisation would replace the lone surrogate.
        Assert.False(SessionKeys.IsValidUserId("lone" + '\uD800' + "surrogate"));
        Assert.False(SessionKeys.IsValidUserId("end" + '\uD83D'));
        Assert.False(SessionKeys.IsValidUserId('\uDE00' + "start"));
        Assert.True(SessionKeys.IsValidUserId("pair\U0001F600"));
    }

    [Theory]
    [InlineData("alvaro_123")]
    [InlineData("a.b")]
    [InlineData("...")]
    [InlineData("team alice")]
    [InlineData("usuario-\u00F1-\U0001F600")]
    [InlineData("\u00C5ngstr\u00F6m")]
    [InlineData("\uAC00")]
    [InlineData("\u0928\u092E\u0938\u094D\u0924\u0947")]
    [InlineData("user@example.com")]
    public void Nfc_ids_of_url_safe_characters_are_accepted(string userId) => Assert.True(SessionKeys.IsValidUserId(userId));
}
