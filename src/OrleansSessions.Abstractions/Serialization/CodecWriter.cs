using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace OrleansSessions.Serialization;

/// <summary>Writes the binary wire format into an <see cref="IBufferWriter{T}"/>. Call <see cref="Commit"/> when done.</summary>
public ref struct CodecWriter
{
    private readonly IBufferWriter<byte> _output;
    private Span<byte> _span;
    private int _position;

    /// <summary>Creates a writer that appends to <paramref name="output"/>.</summary>
    public CodecWriter(IBufferWriter<byte> output)
    {
        _output = output;
        _span = output.GetSpan();
        _position = 0;
    }

    /// <summary>Advances the underlying buffer writer past everything written so far.</summary>
    public void Commit()
    {
        if (_position > 0)
        {
            _output.Advance(_position);
            _position = 0;
            _span = _output.GetSpan();
        }
    }

    private Span<byte> Reserve(int count)
    {
        if (_span.Length - _position < count)
        {
            if (_position > 0)
            {
                _output.Advance(_position);
                _position = 0;
            }
            _span = _output.GetSpan(count);
        }
        return _span.Slice(_position);
    }

    /// <summary>Writes one byte.</summary>
    public void WriteByte(byte value)
    {
        Reserve(1)[0] = value;
        _position++;
    }

    /// <summary>Writes an unsigned LEB128 varint.</summary>
    public void WriteVarUInt64(ulong value)
    {
        var span = Reserve(10);
        var i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[i++] = (byte)value;
        _position += i;
    }

    /// <summary>Writes an unsigned varint.</summary>
    public void WriteVarUInt32(uint value) => WriteVarUInt64(value);

    /// <summary>Writes a zig-zag varint.</summary>
    public void WriteInt32(int value) => WriteVarUInt64((uint)((value << 1) ^ (value >> 31)));

    /// <summary>Writes a zig-zag varint.</summary>
    public void WriteInt64(long value) => WriteVarUInt64((ulong)((value << 1) ^ (value >> 63)));

    /// <summary>Writes a fixed 8-byte little-endian value.</summary>
    public void WriteFixed64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(Reserve(8), value);
        _position += 8;
    }

    /// <summary>Writes a fixed 4-byte little-endian value.</summary>
    public void WriteFixed32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(Reserve(4), value);
        _position += 4;
    }

    /// <summary>Writes bytes as they are, with no length prefix.</summary>
    public void WriteRaw(scoped ReadOnlySpan<byte> value)
    {
        value.CopyTo(Reserve(value.Length));
        _position += value.Length;
    }

    /// <summary>Writes a boolean as one byte.</summary>
    public void WriteBoolean(bool value) => WriteByte(value ? (byte)1 : (byte)0);

    /// <summary>Writes a double as 8 bytes.</summary>
    public void WriteDouble(double value) => WriteFixed64(BitConverter.DoubleToUInt64Bits(value));

    /// <summary>Writes a nullable string: varint (byte length + 1, 0 for null), then UTF-8 bytes.</summary>
    public void WriteString(string? value)
    {
        if (value is null)
        {
            WriteByte(0);
            return;
        }
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (max <= 1024)
        {
            var span = Reserve(max + 5);
            var count = Encoding.UTF8.GetBytes(value, span.Slice(5));
            // Shift the bytes down behind the actual varint length.
            var lengthBytes = VarIntLength((uint)count + 1);
            WriteVarInto(span, (uint)count + 1);
            if (lengthBytes != 5)
            {
                span.Slice(5, count).CopyTo(span.Slice(lengthBytes));
            }
            _position += lengthBytes + count;
            return;
        }
        var bytes = Encoding.UTF8.GetByteCount(value);
        WriteVarUInt32((uint)bytes + 1);
        var target = Reserve(bytes);
        Encoding.UTF8.GetBytes(value, target);
        _position += bytes;
    }

    /// <summary>Writes a nullable byte array: varint (length + 1, 0 for null), then the bytes.</summary>
    public void WriteBytes(scoped ReadOnlySpan<byte> value, bool isNull = false)
    {
        if (isNull)
        {
            WriteByte(0);
            return;
        }
        WriteVarUInt32((uint)value.Length + 1);
        value.CopyTo(Reserve(value.Length));
        _position += value.Length;
    }

    private static int VarIntLength(uint value)
    {
        var n = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            n++;
        }
        return n;
    }

    private static void WriteVarInto(Span<byte> span, uint value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[i] = (byte)value;
    }
}
