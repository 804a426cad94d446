namespace OrleansSessions.Storage;

/// <summary>A state write found a stored ETag different from the one it expected: another activation wrote first.</summary>
public sealed class InconsistentStateException : Exception
{
    /// <summary>Creates the exception.</summary>
    public InconsistentStateException() : base("The stored state changed since it was read.") { }

    /// <summary>Creates the exception with a message.</summary>
    public InconsistentStateException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public InconsistentStateException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception naming both ETags.</summary>
    public InconsistentStateException(string? storedEtag, string? currentEtag)
        : base($"ETag mismatch: stored '{storedEtag ?? "<none>"}', expected '{currentEtag ?? "<none>"}'.")
    {
        StoredEtag = storedEtag;
        CurrentEtag = currentEtag;
    }

    /// <summary>The ETag found in storage.</summary>
    public string? StoredEtag { get; }

    /// <summary>The ETag the writer expected.</summary>
    public string? CurrentEtag { get; }
}
