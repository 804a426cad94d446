namespace OrleansSessions.Serialization;

/// <summary>Writes and reads values of one type in the binary wire format.</summary>
public interface ICodec<T>
{
    /// <summary>Writes <paramref name="value"/>.</summary>
    void Write(ref CodecWriter writer, T value);

    /// <summary>Reads a value; throws <see cref="SerializationException"/> on malformed input.</summary>
    T Read(ref CodecReader reader);
}
