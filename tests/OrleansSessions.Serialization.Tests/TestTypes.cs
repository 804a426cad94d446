using OrleansSessions.Serialization;

namespace OrleansSessions.Serialization.Tests;

/// <summary>A base grain interface: its methods come first in derived interfaces (method ids 0..).</summary>
public interface ITestBaseGrain : IGrainWithStringKey
{
    Task<int> BaseAsync(int value);
}

/// <summary>A grain interface exercising every supported method shape.</summary>
public interface ITestGrain : ITestBaseGrain
{
    Task<string> EchoAsync(string text);

    ValueTask<int> AddAsync(int a, int b);

    Task DoAsync(string? note);

    ValueTask DoValueAsync(long value);

    [OneWay]
    Task FireAsync(Guid id);

    [OneWay]
    ValueTask FireValueAsync();

    [AlwaysInterleave]
    ValueTask<bool> PeekAsync();

    [OneWay]
    [AlwaysInterleave]
    Task PingAsync();

    Task<List<Dictionary<string, int>>?> ComplexAsync(int[] @params, IReadOnlyList<TestPayload> payloads, TestPayload? maybe);

    Task<TestPoint> StructAsync(TestPoint point, int? count, DayOfWeek day);

    Task<string?> NullableAsync(string? @string, byte[]? bytes);
}

/// <summary>Two interfaces with the same simple name must get distinct generated type names.</summary>
public static class Nested
{
    public interface ITestGrain : IGrainWithStringKey
    {
        Task<int> GetAsync();
    }
}

/// <summary>A non-generic grain interface deriving from IGrain directly (like IRemindable).</summary>
public interface IPlainGrain : IGrain
{
    Task<TestPayload> RoundTripAsync(TestPayload payload);
}

/// <summary>A base type: its properties are serialized first.</summary>
public class TestPayloadBase
{
    public int Id { get; set; }

    public string? Tag { get; init; }
}

[GenerateSerializer]
public sealed class TestPayload : TestPayloadBase
{
    public required string Name { get; init; }

    public List<int>? Numbers { get; set; }

    public Dictionary<string, TestPoint>? Points { get; set; }

    public TestPayload? Child { get; set; }

    public DateTimeOffset? When { get; set; }

    /// <summary>Computed: not serialized.</summary>
    public int NameLength => Name.Length;
}

[GenerateSerializer]
public readonly record struct TestPoint(int X, int Y, string? Label);

/// <summary>A get-only property bound by a constructor parameter, plus a settable one.</summary>
[GenerateSerializer]
public sealed class TestImmutable
{
    public TestImmutable(string key, long version)
    {
        Key = key;
        Version = version;
    }

    public TestImmutable(string key) : this(key, 0)
    {
    }

    public string Key { get; }

    public long Version { get; }

    public IReadOnlyList<string>? Items { get; set; }
}

[GenerateSerializer]
public sealed record TestPositionalRecord(string Name, int Count)
{
    public bool Flag { get; init; }
}
