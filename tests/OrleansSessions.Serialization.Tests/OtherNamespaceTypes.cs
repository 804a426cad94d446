namespace OrleansSessions.Serialization.Tests.Other;

/// <summary>Same simple name as <see cref="Tests.ITestGrain"/>: generated names must not collide.</summary>
public interface ITestGrain : IGrainWithStringKey
{
    Task<string> NameAsync();
}

/// <summary>Same simple name as <see cref="Tests.TestPoint"/>.</summary>
[GenerateSerializer]
public sealed class TestPoint
{
    public double Value { get; set; }
}
