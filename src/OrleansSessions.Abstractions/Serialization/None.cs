namespace OrleansSessions.Serialization;

/// <summary>The result type of grain methods that return no value.</summary>
public readonly struct None
{
    /// <summary>The only value.</summary>
    public static readonly None Value;
}
