using System.Data.Common;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Hosting;

/// <summary>
/// An Orleans incoming call filter for the session grains: a failure of the storage driver (a <see cref="DbException"/>
/// anywhere in the exception chain, e.g. Npgsql's while PostgreSQL restarts) leaves the silo as a
/// <see cref="SessionStorageUnavailableException"/>. The driver's exception types are not serializable to callers,
/// who would otherwise receive a codec error instead of a failure they can classify (and retry).
/// </summary>
internal sealed class StorageFailureFilter : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception exception) when (IsSessionGrain(context) && FindStorageFailure(exception) is { } storage)
        {
            throw new SessionStorageUnavailableException($"The session storage is unavailable: {storage.Message}");
        }
    }

    private static bool IsSessionGrain(IIncomingGrainCallContext context)
        => context.Grain is SessionGrain or UserSessionsGrain or JanitorGrain;

    /// <summary>The storage failure in the chain of <paramref name="exception"/>, or null.</summary>
    internal static Exception? FindStorageFailure(Exception exception)
    {
        for (Exception? current = exception; current is not null; current = current.InnerException)
        {
            if (current is DbException || current.GetType().FullName?.StartsWith("Npgsql.", StringComparison.Ordinal) == true)
            {
                return current;
            }
        }
        return null;
    }
}
