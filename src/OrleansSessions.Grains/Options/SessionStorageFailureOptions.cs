using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Options;

/// <summary>
/// Which exceptions in a session grain call are failures of the storage: a
/// <see cref="SessionStorageUnavailableException"/> (the grain storage and the deadline index report their backend's
/// failures so), and any exception whose type's full name starts with one of <see cref="DriverNamespacePrefixes"/>
/// (each storage backend registers the namespaces of its driver and of Orleans' providers for it, whose reminders and
/// clustering fail with their own types). Such a failure leaves the silo as a
/// <see cref="SessionStorageUnavailableException"/> that every caller can classify and retry.
/// </summary>
public sealed class SessionStorageFailureOptions
{
    /// <summary>Namespace prefixes of storage drivers and providers, e.g. "Npgsql." or "StackExchange.Redis.".</summary>
    public ISet<string> DriverNamespacePrefixes { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>The storage failure in the chain of <paramref name="exception"/> (itself and its inner exceptions), or null.</summary>
    public Exception? FindFailure(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            if (current is SessionStorageUnavailableException || IsDriverType(current.GetType().FullName))
            {
                return current;
            }
        }
        return null;
    }

    private bool IsDriverType(string? typeName)
    {
        if (typeName is null)
        {
            return false;
        }
        foreach (var prefix in DriverNamespacePrefixes)
        {
            if (typeName.StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }
}
