using System.Data.Common;

namespace OrleansSessions.Grains.Options;

/// <summary>
/// Which exceptions are failures of the storage behind the session grains: any <see cref="DbException"/>, and any
/// exception whose type's full name starts with one of <see cref="DriverNamespacePrefixes"/> (each storage backend
/// registers its driver's and providers' namespaces). Such a failure leaves the silo as a
/// <see cref="Sessions.SessionStorageUnavailableException"/> that every caller can classify and retry.
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
            if (current is DbException || IsDriverType(current.GetType().FullName))
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
