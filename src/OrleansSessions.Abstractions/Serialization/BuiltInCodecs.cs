using System.Runtime.CompilerServices;

namespace OrleansSessions.Serialization;

internal sealed class StringCodec : ICodec<string>
{
    public static readonly StringCodec Instance = new();
    public void Write(ref CodecWriter writer, string value) => writer.WriteString(value);
    public string Read(ref CodecReader reader) => reader.ReadString()!;
}

internal sealed class Int32Codec : ICodec<int>
{
    public static readonly Int32Codec Instance = new();
    public void Write(ref CodecWriter writer, int value) => writer.WriteInt32(value);
    public int Read(ref CodecReader reader) => reader.ReadInt32();
}

internal sealed class Int64Codec : ICodec<long>
{
    public static readonly Int64Codec Instance = new();
    public void Write(ref CodecWriter writer, long value) => writer.WriteInt64(value);
    public long Read(ref CodecReader reader) => reader.ReadInt64();
}

internal sealed class UInt32Codec : ICodec<uint>
{
    public static readonly UInt32Codec Instance = new();
    public void Write(ref CodecWriter writer, uint value) => writer.WriteVarUInt32(value);
    public uint Read(ref CodecReader reader) => reader.ReadVarUInt32();
}

internal sealed class UInt64Codec : ICodec<ulong>
{
    public static readonly UInt64Codec Instance = new();
    public void Write(ref CodecWriter writer, ulong value) => writer.WriteVarUInt64(value);
    public ulong Read(ref CodecReader reader) => reader.ReadVarUInt64();
}

internal sealed class BooleanCodec : ICodec<bool>
{
    public static readonly BooleanCodec Instance = new();
    public void Write(ref CodecWriter writer, bool value) => writer.WriteBoolean(value);
    public bool Read(ref CodecReader reader) => reader.ReadBoolean();
}

internal sealed class ByteCodec : ICodec<byte>
{
    public static readonly ByteCodec Instance = new();
    public void Write(ref CodecWriter writer, byte value) => writer.WriteByte(value);
    public byte Read(ref CodecReader reader) => reader.ReadByte();
}

internal sealed class DoubleCodec : ICodec<double>
{
    public static readonly DoubleCodec Instance = new();
    public void Write(ref CodecWriter writer, double value) => writer.WriteDouble(value);
    public double Read(ref CodecReader reader) => reader.ReadDouble();
}

internal sealed class DateTimeOffsetCodec : ICodec<DateTimeOffset>
{
    public static readonly DateTimeOffsetCodec Instance = new();

    public void Write(ref CodecWriter writer, DateTimeOffset value)
    {
        writer.WriteInt64(value.UtcTicks);
        writer.WriteInt32((int)(value.Offset.Ticks / TimeSpan.TicksPerMinute));
    }

    public DateTimeOffset Read(ref CodecReader reader)
    {
        var ticks = reader.ReadInt64();
        var offsetMinutes = reader.ReadInt32();
        if (ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks || Math.Abs(offsetMinutes) > 14 * 60)
        {
            throw new SerializationException("DateTimeOffset out of range.");
        }
        try
        {
            return new DateTimeOffset(ticks, TimeSpan.Zero).ToOffset(TimeSpan.FromMinutes(offsetMinutes));
        }
        catch (ArgumentOutOfRangeException ex)
        {
            // A valid instant whose local time at that offset falls outside the DateTime range.
            throw new SerializationException("DateTimeOffset out of range.", ex);
        }
    }
}

internal sealed class DateTimeCodec : ICodec<DateTime>
{
    public static readonly DateTimeCodec Instance = new();
    public void Write(ref CodecWriter writer, DateTime value) => writer.WriteInt64(value.ToBinary());

    public DateTime Read(ref CodecReader reader)
    {
        try
        {
            return DateTime.FromBinary(reader.ReadInt64());
        }
        catch (ArgumentException ex)
        {
            throw new SerializationException("DateTime out of range.", ex);
        }
    }
}

internal sealed class TimeSpanCodec : ICodec<TimeSpan>
{
    public static readonly TimeSpanCodec Instance = new();
    public void Write(ref CodecWriter writer, TimeSpan value) => writer.WriteInt64(value.Ticks);
    public TimeSpan Read(ref CodecReader reader) => new(reader.ReadInt64());
}

internal sealed class GuidCodec : ICodec<Guid>
{
    public static readonly GuidCodec Instance = new();

    public void Write(ref CodecWriter writer, Guid value)
    {
        Span<byte> bytes = stackalloc byte[16];
        value.TryWriteBytes(bytes);
        writer.WriteBytes(bytes);
    }

    public Guid Read(ref CodecReader reader)
    {
        var bytes = reader.ReadBytes();
        if (bytes is not { Length: 16 })
        {
            throw new SerializationException("Invalid Guid.");
        }
        return new Guid(bytes);
    }
}

internal sealed class ByteArrayCodec : ICodec<byte[]>
{
    public static readonly ByteArrayCodec Instance = new();
    public void Write(ref CodecWriter writer, byte[] value) => writer.WriteBytes(value, value is null);
    public byte[] Read(ref CodecReader reader) => reader.ReadBytes()!;
}

internal sealed class NoneCodec : ICodec<None>
{
    public static readonly NoneCodec Instance = new();
    public void Write(ref CodecWriter writer, None value) { }
    public None Read(ref CodecReader reader) => default;
}

internal sealed class EnumCodec<T> : ICodec<T> where T : struct, Enum
{
    public void Write(ref CodecWriter writer, T value)
    {
        long raw = Unsafe.SizeOf<T>() switch
        {
            1 => Unsafe.As<T, byte>(ref value),
            2 => Unsafe.As<T, short>(ref value),
            4 => Unsafe.As<T, int>(ref value),
            _ => Unsafe.As<T, long>(ref value),
        };
        writer.WriteInt64(raw);
    }

    public T Read(ref CodecReader reader)
    {
        var raw = reader.ReadInt64();
        T value = default;
        switch (Unsafe.SizeOf<T>())
        {
            case 1: Unsafe.As<T, byte>(ref value) = (byte)raw; break;
            case 2: Unsafe.As<T, short>(ref value) = (short)raw; break;
            case 4: Unsafe.As<T, int>(ref value) = (int)raw; break;
            default: Unsafe.As<T, long>(ref value) = raw; break;
        }
        return value;
    }
}

internal sealed class NullableCodec<T> : ICodec<T?> where T : struct
{
    public void Write(ref CodecWriter writer, T? value)
    {
        writer.WriteBoolean(value.HasValue);
        if (value.HasValue)
        {
            CodecRegistry.Get<T>().Write(ref writer, value.GetValueOrDefault());
        }
    }

    public T? Read(ref CodecReader reader) => reader.ReadBoolean() ? CodecRegistry.Get<T>().Read(ref reader) : null;
}

/// <summary>The header of a nullable collection: a varint holding the element count + 1 (0 for null).</summary>
internal static class CollectionHeader
{
    /// <summary>Reads the header: -1 for null, otherwise the element count, checked against the bytes left (each element takes at least one byte).</summary>
    public static int Read(ref CodecReader reader)
    {
        var countPlusOne = reader.ReadVarUInt32();
        if (countPlusOne == 0)
        {
            return -1;
        }
        if (countPlusOne - 1 > (uint)reader.Remaining)
        {
            throw new SerializationException("Collection count exceeds message size.");
        }
        return (int)(countPlusOne - 1);
    }
}

internal sealed class ArrayCodec<T> : ICodec<T[]>
{
    public void Write(ref CodecWriter writer, T[] value)
    {
        if (value is null)
        {
            writer.WriteByte(0);
            return;
        }
        writer.WriteVarUInt32((uint)value.Length + 1);
        var codec = CodecRegistry.Get<T>();
        foreach (var item in value)
        {
            codec.Write(ref writer, item);
        }
    }

    public T[] Read(ref CodecReader reader)
    {
        var count = CollectionHeader.Read(ref reader);
        if (count < 0)
        {
            return null!;
        }
        var result = new T[count];
        var codec = CodecRegistry.Get<T>();
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = codec.Read(ref reader);
        }
        return result;
    }
}

internal sealed class ListCodec<T> : ICodec<List<T>>
{
    public void Write(ref CodecWriter writer, List<T> value)
    {
        if (value is null)
        {
            writer.WriteByte(0);
            return;
        }
        writer.WriteVarUInt32((uint)value.Count + 1);
        var codec = CodecRegistry.Get<T>();
        foreach (var item in value)
        {
            codec.Write(ref writer, item);
        }
    }

    public List<T> Read(ref CodecReader reader)
    {
        var count = CollectionHeader.Read(ref reader);
        if (count < 0)
        {
            return null!;
        }
        var result = new List<T>(count);
        var codec = CodecRegistry.Get<T>();
        for (var i = 0; i < count; i++)
        {
            result.Add(codec.Read(ref reader));
        }
        return result;
    }
}

internal sealed class ReadOnlyListCodec<T, TCollection> : ICodec<TCollection> where TCollection : class, IEnumerable<T>
{
    public void Write(ref CodecWriter writer, TCollection value)
    {
        if (value is null)
        {
            writer.WriteByte(0);
            return;
        }
        var items = value as IReadOnlyCollection<T> ?? value.ToList();
        writer.WriteVarUInt32((uint)items.Count + 1);
        var codec = CodecRegistry.Get<T>();
        foreach (var item in items)
        {
            codec.Write(ref writer, item);
        }
    }

    public TCollection Read(ref CodecReader reader)
    {
        var count = CollectionHeader.Read(ref reader);
        if (count < 0)
        {
            return null!;
        }
        var result = new T[count];
        var codec = CodecRegistry.Get<T>();
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = codec.Read(ref reader);
        }
        return (TCollection)(object)result;
    }
}

internal sealed class DictionaryCodec<TKey, TValue> : ICodec<Dictionary<TKey, TValue>> where TKey : notnull
{
    public void Write(ref CodecWriter writer, Dictionary<TKey, TValue> value)
    {
        if (value is null)
        {
            writer.WriteByte(0);
            return;
        }
        writer.WriteVarUInt32((uint)value.Count + 1);
        var keyCodec = CodecRegistry.Get<TKey>();
        var valueCodec = CodecRegistry.Get<TValue>();
        foreach (var pair in value)
        {
            keyCodec.Write(ref writer, pair.Key);
            valueCodec.Write(ref writer, pair.Value);
        }
    }

    public Dictionary<TKey, TValue> Read(ref CodecReader reader)
    {
        var count = CollectionHeader.Read(ref reader);
        if (count < 0)
        {
            return null!;
        }
        var result = new Dictionary<TKey, TValue>(count);
        var keyCodec = CodecRegistry.Get<TKey>();
        var valueCodec = CodecRegistry.Get<TValue>();
        for (var i = 0; i < count; i++)
        {
            var key = keyCodec.Read(ref reader);
            if (key is null)
            {
                throw new SerializationException("Null dictionary key.");
            }
            result[key] = valueCodec.Read(ref reader);
        }
        return result;
    }
}
