using OrleansSessions.Reminders;
using OrleansSessions.Sessions;

namespace OrleansSessions.Serialization.Tests;

public class BuiltInCodecTests
{
    internal static T RoundTrip<T>(T value) => CodecRegistry.Deserialize<T>(CodecRegistry.Serialize(value));

    [Theory]
    [InlineData("")]
    [InlineData("a")]
    [InlineData("hello, world")]
    [InlineData("héllo wörld ✓ 日本語 \U0001F600")]
    [InlineData("\0 nul inside")]
    public void String_RoundTrips(string value) => Assert.Equal(value, RoundTrip(value));

    [Fact]
    public void String_Null_RoundTrips() => Assert.Null(RoundTrip<string?>(null));

    [Theory]
    [InlineData(1023)]
    [InlineData(1024)]
    [InlineData(1025)]
    [InlineData(100_000)]
    public void String_Long_RoundTrips(int length)
    {
        var ascii = new string('x', length);
        Assert.Equal(ascii, RoundTrip(ascii));
        var unicode = string.Concat(Enumerable.Repeat("é日\U0001F600", length / 4 + 1));
        Assert.Equal(unicode, RoundTrip(unicode));
        // Strings around the 1024-byte fast-path boundary, with multi-byte characters.
        var mixed = new string('é', length / 2);
        Assert.Equal(mixed, RoundTrip(mixed));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(-1)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(-64)]
    [InlineData(-65)]
    [InlineData(int.MaxValue)]
    [InlineData(int.MinValue)]
    public void Int32_RoundTrips(int value) => Assert.Equal(value, RoundTrip(value));

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    [InlineData((long)int.MaxValue + 1)]
    public void Int64_RoundTrips(long value) => Assert.Equal(value, RoundTrip(value));

    [Theory]
    [InlineData(0u)]
    [InlineData(uint.MaxValue)]
    public void UInt32_RoundTrips(uint value) => Assert.Equal(value, RoundTrip(value));

    [Theory]
    [InlineData(0ul)]
    [InlineData(ulong.MaxValue)]
    public void UInt64_RoundTrips(ulong value) => Assert.Equal(value, RoundTrip(value));

    [Theory]
    [InlineData((byte)0)]
    [InlineData((byte)255)]
    public void Byte_RoundTrips(byte value) => Assert.Equal(value, RoundTrip(value));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Boolean_RoundTrips(bool value) => Assert.Equal(value, RoundTrip(value));

    [Theory]
    [InlineData(0.0)]
    [InlineData(3.141592653589793)]
    [InlineData(double.MaxValue)]
    [InlineData(double.MinValue)]
    [InlineData(double.Epsilon)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    [InlineData(double.NaN)]
    public void Double_RoundTrips(double value)
        => Assert.Equal(BitConverter.DoubleToInt64Bits(value), BitConverter.DoubleToInt64Bits(RoundTrip(value)));

    [Fact]
    public void Double_NegativeZero_RoundTrips()
        => Assert.Equal(BitConverter.DoubleToInt64Bits(-0.0), BitConverter.DoubleToInt64Bits(RoundTrip(-0.0)));

    public static TheoryData<DateTimeOffset> DateTimeOffsets => new()
    {
        new DateTimeOffset(2024, 5, 6, 7, 8, 9, 123, TimeSpan.Zero),
        new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.FromHours(2)),
        new DateTimeOffset(2024, 12, 31, 23, 59, 59, TimeSpan.FromHours(-9.5)),
        new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.FromHours(14)),
        new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.FromHours(-14)),
        new DateTimeOffset(637_000_000_000_000_001, TimeSpan.FromMinutes(345)),
        DateTimeOffset.MinValue,
        DateTimeOffset.MaxValue,
        DateTimeOffset.UnixEpoch,
    };

    [Theory]
    [MemberData(nameof(DateTimeOffsets))]
    public void DateTimeOffset_RoundTrips_WithOffset(DateTimeOffset value)
    {
        var copy = RoundTrip(value);
        Assert.Equal(value, copy);
        Assert.Equal(value.Offset, copy.Offset);
        Assert.Equal(value.UtcTicks, copy.UtcTicks);
    }

    public static TheoryData<DateTime> DateTimes => new()
    {
        new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc),
        new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Unspecified),
        new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Local),
        DateTime.MinValue,
        DateTime.SpecifyKind(DateTime.MaxValue, DateTimeKind.Utc),
    };

    [Theory]
    [MemberData(nameof(DateTimes))]
    public void DateTime_RoundTrips(DateTime value)
    {
        var copy = RoundTrip(value);
        Assert.Equal(value, copy);
        Assert.Equal(value.Kind, copy.Kind);
    }

    [Fact]
    public void TimeSpan_RoundTrips()
    {
        foreach (var value in new[] { TimeSpan.Zero, TimeSpan.FromMilliseconds(1.5), TimeSpan.FromDays(-3), TimeSpan.MaxValue, TimeSpan.MinValue })
        {
            Assert.Equal(value, RoundTrip(value));
        }
    }

    [Fact]
    public void Guid_RoundTrips()
    {
        foreach (var value in new[] { Guid.Empty, Guid.NewGuid(), Guid.Parse("01234567-89ab-cdef-0123-456789abcdef") })
        {
            Assert.Equal(value, RoundTrip(value));
        }
    }

    [Fact]
    public void ByteArray_RoundTrips()
    {
        Assert.Null(RoundTrip<byte[]?>(null));
        Assert.Empty(RoundTrip(Array.Empty<byte>()));
        var data = new byte[5000];
        new Random(42).NextBytes(data);
        Assert.Equal(data, RoundTrip(data));
    }

    [Fact]
    public void Enums_RoundTrip()
    {
        Assert.Equal(EndReason.LogoutAll, RoundTrip(EndReason.LogoutAll));
        Assert.Equal(SessionStatus.Closed, RoundTrip(SessionStatus.Closed));
        Assert.Equal(DayOfWeek.Saturday, RoundTrip(DayOfWeek.Saturday));
        Assert.Equal((EndReason)1234, RoundTrip((EndReason)1234));
        Assert.Equal(ByteEnum.Max, RoundTrip(ByteEnum.Max));
        Assert.Equal(LongEnum.Min, RoundTrip(LongEnum.Min));
        Assert.Equal(LongEnum.Max, RoundTrip(LongEnum.Max));
        Assert.Equal(ShortEnum.Negative, RoundTrip(ShortEnum.Negative));
    }

    [Fact]
    public void Nullable_RoundTrips()
    {
        Assert.Null(RoundTrip<int?>(null));
        Assert.Equal(-5, RoundTrip<int?>(-5));
        Assert.Null(RoundTrip<EndReason?>(null));
        Assert.Equal(EndReason.Evicted, RoundTrip<EndReason?>(EndReason.Evicted));
        var now = DateTimeOffset.UtcNow;
        Assert.Equal(now, RoundTrip<DateTimeOffset?>(now));
        Assert.Null(RoundTrip<TickStatus?>(null));
    }

    [Fact]
    public void Arrays_RoundTrip()
    {
        Assert.Null(RoundTrip<int[]?>(null));
        Assert.Empty(RoundTrip(Array.Empty<int>()));
        Assert.Equal([1, -2, int.MaxValue], RoundTrip(new[] { 1, -2, int.MaxValue }));
        Assert.Equal((IEnumerable<string?>)["a", null, ""], RoundTrip(new[] { "a", null, "" }));
        Assert.Equal([true], RoundTrip(new[] { true }));
        var big = Enumerable.Range(0, 10_000).ToArray();
        Assert.Equal(big, RoundTrip(big));
    }

    [Fact]
    public void List_RoundTrips()
    {
        Assert.Null(RoundTrip<List<int>?>(null));
        Assert.Empty(RoundTrip(new List<string>()));
        Assert.Equal(new List<string> { "x", "y" }, RoundTrip(new List<string> { "x", "y" }));
        Assert.Equal(new List<long> { 7 }, RoundTrip(new List<long> { 7 }));
    }

    [Fact]
    public void ReadOnlyList_RoundTrips()
    {
        Assert.Null(RoundTrip<IReadOnlyList<int>?>(null));
        IReadOnlyList<int> empty = [];
        Assert.Empty(RoundTrip(empty));
        IReadOnlyList<string> strings = new List<string> { "a", "b", "c" };
        Assert.Equal(strings, RoundTrip(strings));
        IReadOnlyList<int> single = [42];
        Assert.Equal(single, RoundTrip(single));
        IEnumerable<int> lazy = Enumerable.Range(1, 3).Select(x => x * 2);
        Assert.Equal([2, 4, 6], RoundTrip(lazy));
    }

    [Fact]
    public void Dictionary_RoundTrips()
    {
        Assert.Null(RoundTrip<Dictionary<string, int>?>(null));
        Assert.Empty(RoundTrip(new Dictionary<string, int>()));
        var value = new Dictionary<string, int> { ["a"] = 1, ["b"] = -2, [""] = 0 };
        Assert.Equal(value, RoundTrip(value));
        var single = new Dictionary<int, bool> { [1] = true };
        Assert.Equal(single, RoundTrip(single));
        var nested = new Dictionary<string, List<int>> { ["x"] = [1, 2], ["y"] = [] };
        var copy = RoundTrip(nested);
        Assert.Equal(nested["x"], copy["x"]);
        Assert.Empty(copy["y"]);
    }

    [Fact]
    public void None_RoundTrips()
    {
        Assert.Empty(CodecRegistry.Serialize(None.Value));
        Assert.Equal(default, RoundTrip(None.Value));
    }

    [Fact]
    public void CollectionAtEndOfMessage_RoundTrips()
    {
        // The collection is the last thing in the buffer: its count check must not demand an extra byte.
        Assert.Equal([5], RoundTrip(new[] { 5 }));
        Assert.Equal(new List<int> { 5, 6 }, RoundTrip(new List<int> { 5, 6 }));
        Assert.Equal(new Dictionary<int, int> { [1] = 2 }, RoundTrip(new Dictionary<int, int> { [1] = 2 }));
    }

    [Fact]
    public void UnknownType_ThrowsSerializationException()
        => Assert.Throws<SerializationException>(() => CodecRegistry.Serialize(new NoCodec()));

    [Fact]
    public void TrailingBytes_ThrowSerializationException()
        => Assert.Throws<SerializationException>(() => CodecRegistry.Deserialize<int>([2, 0]));

    public enum ByteEnum : byte { Zero = 0, Max = 255 }

    public enum ShortEnum : short { Negative = -300 }

    public enum LongEnum : long { Min = long.MinValue, Max = long.MaxValue }

    private sealed class NoCodec;
}
