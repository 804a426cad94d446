using System.Buffers;
using OrleansSessions.Invocation;
using OrleansSessions.Reminders;
using OrleansSessions.Sessions;

namespace OrleansSessions.Serialization.Tests;

/// <summary>Malformed input must raise <see cref="SerializationException"/> and nothing else.</summary>
public class MalformedInputTests
{
    private static void Throws<T>(byte[] data) => Assert.Throws<SerializationException>(() => CodecRegistry.Deserialize<T>(data));

    /// <summary>Decodes; any exception other than SerializationException escapes and fails the test.</summary>
    private static void DecodeOrSerializationException<T>(ReadOnlySpan<byte> data)
    {
        try
        {
            CodecRegistry.Deserialize<T>(data);
        }
        catch (SerializationException)
        {
        }
    }

    private static void AllPrefixesThrow<T>(T value)
    {
        var bytes = CodecRegistry.Serialize(value);
        for (var length = 0; length < bytes.Length; length++)
        {
            var prefix = bytes[..length];
            Assert.Throws<SerializationException>(() => CodecRegistry.Deserialize<T>(prefix));
        }
    }

    [Fact]
    public void Truncated_Values_Throw()
    {
        AllPrefixesThrow("hello ü");
        AllPrefixesThrow(new string('x', 2000));
        AllPrefixesThrow(int.MinValue);
        AllPrefixesThrow(long.MaxValue);
        AllPrefixesThrow(3.5);
        AllPrefixesThrow(Guid.NewGuid());
        AllPrefixesThrow(new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.FromHours(5)));
        AllPrefixesThrow(DateTime.UtcNow);
        AllPrefixesThrow(TimeSpan.FromDays(3));
        AllPrefixesThrow(new byte[] { 1, 2, 3 });
        AllPrefixesThrow(new[] { 1, 2, 3 });
        AllPrefixesThrow(new List<string> { "a", "b" });
        AllPrefixesThrow<IReadOnlyList<int>>([1, 2]);
        AllPrefixesThrow(new Dictionary<string, int> { ["a"] = 1 });
        AllPrefixesThrow<int?>(5);
        AllPrefixesThrow(EndReason.Logout);
        AllPrefixesThrow(GeneratedCodecTests.ActiveSession());
        AllPrefixesThrow(GeneratedCodecTests.EndedSession());
        AllPrefixesThrow(new SessionEvent { Session = GeneratedCodecTests.EndedSession(), Type = SessionEventType.Closed, At = DateTimeOffset.UtcNow });
        AllPrefixesThrow(new TickStatus(DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1), DateTimeOffset.UtcNow));
        AllPrefixesThrow(new TestPayload { Name = "n", Numbers = [1], Child = new TestPayload { Name = "c" } });
    }

    [Fact]
    public void Truncated_RequestArguments_Throw()
    {
        var invoker = new RecordingInvoker();
        _ = GrainInterfaceRegistry.CreateProxy<IRemindable>("r", invoker)
            .ReceiveReminder("name", new TickStatus(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), DateTimeOffset.UtcNow));
        _ = GrainInterfaceRegistry.CreateProxy<IUserSessionsGrain>("u", invoker).SessionEndedAsync(GeneratedCodecTests.EndedSession());
        foreach (var (_, request, _) in invoker.Sent)
        {
            var bytes = Wire.WriteArguments(request);
            for (var length = 0; length < bytes.Length; length++)
            {
                var empty = GrainInterfaceRegistry.Find(request.InterfaceId)!.RequestFactory(request.MethodId)!;
                var prefix = bytes[..length];
                Assert.Throws<SerializationException>(() =>
                {
                    var reader = new CodecReader(prefix);
                    empty.ReadArguments(ref reader);
                });
            }
        }
    }

    [Fact]
    public void HugeCounts_Throw()
    {
        byte[] huge = [0xFF, 0xFF, 0xFF, 0xFF, 0x0F];
        Throws<string>(huge);
        Throws<byte[]>(huge);
        Throws<int[]>(huge);
        Throws<List<int>>(huge);
        Throws<IReadOnlyList<string>>(huge);
        Throws<Dictionary<string, string>>(huge);
        // A count one larger than the elements present.
        Throws<int[]>([3, 2]);
        Throws<List<int>>([4, 2, 4]);
        Throws<Dictionary<int, int>>([3, 2, 4]);
        Throws<string>([5, (byte)'a', (byte)'b']);
    }

    [Fact]
    public void InvalidUtf8_Throws()
    {
        Throws<string>([3, 0xC3, 0x28]);
        Throws<string>([2, 0xFF]);
        Throws<string>([4, 0xED, 0xA0, 0x80]); // UTF-16 surrogate encoded in UTF-8
        Throws<SessionInfo>([1, 2, 0x80]);
    }

    [Fact]
    public void InvalidBoolean_Throws()
    {
        Throws<bool>([2]);
        Throws<bool>([0xFF]);
        Throws<int?>([7, 2]);
        Throws<bool[]>([2, 5]);
    }

    [Fact]
    public void InvalidPresenceMarker_Throws()
    {
        Throws<SessionInfo>([2]);
        Throws<SessionEvent>([0xFF]);
        Throws<TestPayload>([9]);
    }

    [Fact]
    public void OverlongVarints_Throw()
    {
        Throws<long>([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
        Throws<int>([0xFF, 0xFF, 0xFF, 0xFF, 0x1F]); // > 32 bits
        Throws<uint>([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    }

    [Fact]
    public void OutOfRangeValues_Throw()
    {
        // DateTimeOffset: ticks beyond the range, offset beyond ±14h, and a valid instant whose local time overflows.
        Throws<DateTimeOffset>(Encode((ref CodecWriter w) => { w.WriteInt64(long.MaxValue); w.WriteInt32(0); }));
        Throws<DateTimeOffset>(Encode((ref CodecWriter w) => { w.WriteInt64(-1); w.WriteInt32(0); }));
        Throws<DateTimeOffset>(Encode((ref CodecWriter w) => { w.WriteInt64(0); w.WriteInt32(15 * 60); }));
        Throws<DateTimeOffset>(Encode((ref CodecWriter w) => { w.WriteInt64(0); w.WriteInt32(-60); }));
        Throws<DateTimeOffset>(Encode((ref CodecWriter w) => { w.WriteInt64(DateTimeOffset.MaxValue.UtcTicks); w.WriteInt32(60); }));
        Throws<DateTime>(Encode((ref CodecWriter w) => w.WriteInt64(long.MaxValue)));
        Throws<Guid>([5, 1, 2, 3, 4]);
        Throws<Guid>([0]);
    }

    [Fact]
    public void NullDictionaryKey_Throws()
        => Throws<Dictionary<string, int>>(Encode((ref CodecWriter w) => { w.WriteVarUInt32(2); w.WriteString(null); w.WriteInt32(1); }));

    [Fact]
    public void ExceptionCodec_Garbage_Throws()
    {
        Throws<Exception>([3, 0xC3, 0x28]);
        Throws<Exception>([0xFF]);
    }

    [Fact]
    public void RandomBytes_OnlyEverThrowSerializationException()
    {
        var random = new Random(1234);
        var buffer = new byte[64];
        for (var i = 0; i < 3000; i++)
        {
            var data = buffer.AsSpan(0, random.Next(buffer.Length + 1));
            random.NextBytes(data);
            FuzzAll(data);
        }
    }

    [Fact]
    public void MutatedValidMessages_OnlyEverThrowSerializationException()
    {
        var random = new Random(99);
        var samples = new[]
        {
            CodecRegistry.Serialize(GeneratedCodecTests.EndedSession()),
            CodecRegistry.Serialize(new SessionEvent { Session = GeneratedCodecTests.ActiveSession(), Type = SessionEventType.Created, At = DateTimeOffset.UtcNow }),
            CodecRegistry.Serialize(new TickStatus(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), DateTimeOffset.UtcNow)),
            CodecRegistry.Serialize(new TestPayload { Name = "n", Numbers = [1, 2], Points = new() { ["a"] = new TestPoint(1, 2, "l") }, Child = new TestPayload { Name = "c" } }),
            CodecRegistry.Serialize<IReadOnlyList<SessionInfo>>([GeneratedCodecTests.ActiveSession(), GeneratedCodecTests.EndedSession()]),
        };
        foreach (var sample in samples)
        {
            for (var i = 0; i < 500; i++)
            {
                var data = (byte[])sample.Clone();
                var flips = random.Next(1, 4);
                for (var f = 0; f < flips; f++)
                {
                    data[random.Next(data.Length)] = (byte)random.Next(256);
                }
                var length = random.Next(2) == 0 ? data.Length : random.Next(data.Length + 1);
                FuzzAll(data.AsSpan(0, length));
            }
        }
    }

    private static void FuzzAll(ReadOnlySpan<byte> data)
    {
        DecodeOrSerializationException<string>(data);
        DecodeOrSerializationException<int>(data);
        DecodeOrSerializationException<long>(data);
        DecodeOrSerializationException<bool>(data);
        DecodeOrSerializationException<double>(data);
        DecodeOrSerializationException<DateTimeOffset>(data);
        DecodeOrSerializationException<DateTime>(data);
        DecodeOrSerializationException<TimeSpan>(data);
        DecodeOrSerializationException<Guid>(data);
        DecodeOrSerializationException<byte[]>(data);
        DecodeOrSerializationException<EndReason>(data);
        DecodeOrSerializationException<int?>(data);
        DecodeOrSerializationException<string[]>(data);
        DecodeOrSerializationException<List<long>>(data);
        DecodeOrSerializationException<IReadOnlyList<SessionInfo>>(data);
        DecodeOrSerializationException<Dictionary<string, int>>(data);
        DecodeOrSerializationException<Dictionary<int, string>>(data);
        DecodeOrSerializationException<SessionInfo>(data);
        DecodeOrSerializationException<SessionEvent>(data);
        DecodeOrSerializationException<TickStatus>(data);
        DecodeOrSerializationException<TestPayload>(data);
        DecodeOrSerializationException<TestImmutable>(data);
        DecodeOrSerializationException<Exception>(data);
        DecodeOrSerializationException<SessionExpiredException>(data);
    }

    private static byte[] Encode(WriteAction write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new CodecWriter(buffer);
        write(ref writer);
        writer.Commit();
        return buffer.WrittenSpan.ToArray();
    }

    private delegate void WriteAction(ref CodecWriter writer);
}
