using System.Buffers.Binary;
using System.Text;

namespace OrleansSessions.Serialization;

/// <summary>Reads the binary wire format from a span. Malformed input throws <see cref="SerializationException"/>.</summary>
public ref struct CodecReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private int _position;

    /// <summary>Creates a reader over <paramref name="buffer"/>.</summary>
    public CodecReader(ReadOnlySpan<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    /// <summary>Bytes consumed so far.</summary>
    public readonly int Position => _position;

    /// <summary>Bytes left.</summary>
    public readonly int Remaining => _buffer.Length - _position;

    private ReadOnlySpan<byte> Take(int count)
    {
        if ((uint)count > (uint)(_buffer.Length - _position))
        {
            throw new SerializationException("Unexpected end of message.");
        }
        var slice = _buffer.Slice(_position, count);
        _position += count;
        return slice;
    }

    /// <summary>Reads one byte.</summary>
    public byte ReadByte() => Take(1)[0];

    /// <summary>Reads an unsigned varint.</summary>
    public ulong ReadVarUInt64()
    {
        ulong result = 0;
        var shift = 0;
        while (true)
        {
            var b = ReadByte();
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
            shift += 7;
            if (shift > 63)
            {
                throw new SerializationException("Varint is too long.");
            }
        }
    }

    /// <summary>Reads an unsigned varint that must fit 32 bits.</summary>
    public uint ReadVarUInt32()
    {
        var value = ReadVarUInt64();
        if (value > uint.MaxValue)
        {
            throw new SerializationException("Varint overflows 32 bits.");
        }
        return (uint)value;
    }

    /// <summary>Reads a zig-zag varint.</summary>
    public int ReadInt32()
    {
        var v = ReadVarUInt32();
        return (int)(v >> 1) ^ -(int)(v & 1);
    }

    /// <summary>Reads a zig-zag varint.</summary>
    public long ReadInt64()
    {
        var v = ReadVarUInt64();
        return (long)(v >> 1) ^ -(long)(v & 1);
    }

    /// <summary>Reads a fixed 8-byte value.</summary>
    public ulong ReadFixed64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    /// <summary>Reads a fixed 4-byte value.</summary>
    public uint ReadFixed32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    /// <summary>Reads a boolean.</summary>
    public bool ReadBoolean() => ReadByte() switch
    {
        0 => false,
        1 => true,
        _ => throw new SerializationException("Invalid boolean."),
    };

    /// <summary>Reads a double.</summary>
    public double ReadDouble() => BitConverter.UInt64BitsToDouble(ReadFixed64());

    /// <summary>Reads a nullable string.</summary>
    public string? ReadString()
    {
        var lengthPlusOne = ReadVarUInt32();
        if (lengthPlusOne == 0)
        {
            return null;
        }
        var bytes = Take((int)Math.Min(lengthPlusOne - 1, int.MaxValue));
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new SerializationException("Invalid UTF-8 in string.", ex);
        }
    }

    /// <summary>Reads a nullable byte array.</summary>
    public byte[]? ReadBytes()
    {
        var lengthPlusOne = ReadVarUInt32();
        if (lengthPlusOne == 0)
        {
            return null;
        }
        return Take((int)Math.Min(lengthPlusOne - 1, int.MaxValue)).ToArray();
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
