using Microsoft.Extensions.Options;
using OrleansSessions.Grains.Options;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Hosting;

/// <summary>
/// An Orleans incoming call filter for the session grains: a failure of the storage (see
/// <see cref="SessionStorageFailureOptions"/>: the grain storage's or the deadline index's
/// <see cref="SessionStorageUnavailableException"/>, which Orleans' storage bridge wraps, or a reminder or clustering
/// provider's driver exception) leaves the silo as a <see cref="SessionStorageUnavailableException"/>. The drivers'
/// exception types are not serializable to callers, who would otherwise receive a codec error instead of a failure they
/// can classify (and retry).
/// </summary>
internal sealed class StorageFailureFilter(IOptions<SessionStorageFailureOptions> options) : IIncomingGrainCallFilter
{
    private readonly SessionStorageFailureOptions _options = options.Value;

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (Exception exception) when (IsSessionGrain(context) && _options.FindFailure(exception) is { } storage)
        {
            throw storage as SessionStorageUnavailableException
                ?? new SessionStorageUnavailableException($"The session storage is unavailable: {OneLine(storage.Message)}");
        }
    }

    private static bool IsSessionGrain(IIncomingGrainCallContext context)
        => context.Grain is SessionGrain or UserSessionsGrain or JanitorGrain;

    private static string OneLine(string message)
        => string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
