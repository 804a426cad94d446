using OrleansSessions.Sessions;

namespace OrleansSessions.Serialization.Tests;

public class ExceptionCodecTests
{
    [Fact]
    public void KnownException_RoundTrips_AsSameType()
    {
        Exception value = new SessionExpiredException("session sess_1 expired");
        var copy = CodecRegistry.Deserialize<Exception>(CodecRegistry.Serialize(value));
        var typed = Assert.IsType<SessionExpiredException>(copy);
        Assert.Equal("session sess_1 expired", typed.Message);
    }

    [Fact]
    public void KnownException_RoundTrips_WhenStaticTypeIsTheExceptionType()
    {
        var copy = CodecRegistry.Deserialize<SessionNotFoundException>(CodecRegistry.Serialize(new SessionNotFoundException("gone")));
        Assert.Equal("gone", copy.Message);
    }

    [Theory]
    [InlineData(typeof(InvalidOperationException))]
    [InlineData(typeof(ArgumentException))]
    [InlineData(typeof(SessionClosedException))]
    [InlineData(typeof(SessionLimitExceededException))]
    [InlineData(typeof(SessionAlreadyExistsException))]
    public void FrameworkAndDomainExceptions_RoundTrip(Type type)
    {
        var value = (Exception)Activator.CreateInstance(type, "message of " + type.Name)!;
        var copy = CodecRegistry.Deserialize<Exception>(CodecRegistry.Serialize(value));
        Assert.IsType(type, copy);
        Assert.Equal(value.Message, copy.Message);
    }

    [Fact]
    public void UnknownType_BecomesGrainCallException_WithRemoteTypeName()
    {
        var bytes = Write("Some.Remote.Namespace.UnknownException", "remote failure");
        var copy = CodecRegistry.Deserialize<Exception>(bytes);
        var wrapped = Assert.IsType<GrainCallException>(copy);
        Assert.Equal("Some.Remote.Namespace.UnknownException", wrapped.RemoteTypeName);
        Assert.Equal("remote failure", wrapped.Message);
    }

    [Fact]
    public void NonExceptionType_BecomesGrainCallException()
    {
        var copy = CodecRegistry.Deserialize<Exception>(Write("System.String", "not an exception"));
        Assert.Equal("System.String", Assert.IsType<GrainCallException>(copy).RemoteTypeName);
    }

    [Fact]
    public void MismatchedType_ForTypedCodec_ThrowsSerializationException()
    {
        var bytes = CodecRegistry.Serialize<Exception>(new InvalidOperationException("x"));
        Assert.Throws<SerializationException>(() => CodecRegistry.Deserialize<SessionExpiredException>(bytes));
    }

    [Fact]
    public void Truncated_ThrowsSerializationException()
    {
        var bytes = CodecRegistry.Serialize<Exception>(new SessionExpiredException("expired"));
        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.Throws<SerializationException>(() => CodecRegistry.Deserialize<Exception>(bytes.AsSpan(0, length)));
        }
    }

    private static byte[] Write(string typeName, string message)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new CodecWriter(buffer);
        writer.WriteString(typeName);
        writer.WriteString(message);
        writer.Commit();
        return buffer.WrittenSpan.ToArray();
    }
}
