using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Npgsql;
using OrleansSessions.PostgreSql;
using OrleansSessions.Sessions;

namespace OrleansSessions.SiloHost.Api;

/// <summary>Turns the exceptions of grain calls and request parsing into HTTP answers with an <see cref="ApiError"/> body.</summary>
internal static class ApiErrors
{
    public static IResult BadRequest(string error, string detail) => TypedResults.BadRequest(new ApiError(error, detail));

    public static IResult NotFound(string error, string detail) => TypedResults.NotFound(new ApiError(error, detail));

    public static IResult Unauthorized(string detail) => TypedResults.Json(new ApiError("unauthorized", detail), statusCode: StatusCodes.Status401Unauthorized);

    /// <summary>Maps a known exception; false for anything that is the service's own fault.</summary>
    public static bool TryMap(Exception exception, out IResult result)
    {
        switch (exception)
        {
            case SessionNotFoundException e:
                result = NotFound("session_not_found", e.Message);
                return true;
            case SessionExpiredException e:
                result = Conflict("session_expired", e.Message);
                return true;
            case SessionClosedException e:
                result = Conflict("session_closed", e.Message);
                return true;
            case SessionLimitExceededException e:
                result = Conflict("session_limit_exceeded", e.Message);
                return true;
            case JsonException e:
                result = BadRequest("invalid_json", e.Message);
                return true;
            case BadHttpRequestException e:
                result = BadRequest("bad_request", e.Message);
                return true;
            case ArgumentException e:
                result = BadRequest("invalid_argument", e.Message);
                return true;
            case Serialization.SerializationException e:
                result = BadRequest("invalid_request", e.Message);
                return true;
            case SiloUnavailableException e:
                result = Unavailable("silo_unavailable", e.Message);
                return true;
            case TimeoutException e:
                // GrainCallTimeoutException included: the cluster did not answer in time.
                result = Unavailable("timeout", e.Message);
                return true;
            case PostgreSqlUnavailableException e:
                result = Unavailable("storage_unavailable", e.Message);
                return true;
            case NpgsqlException e:
                result = Unavailable("storage_unavailable", e.Message);
                return true;
            case GrainCallException { RemoteTypeName: { } remote } e when TryMapRemote(remote, e.Message, out result):
                return true;
            default:
                result = null!;
                return false;
        }
    }

    // An exception type the caller could not re-create arrives as GrainCallException naming it.
    private static bool TryMapRemote(string remoteTypeName, string message, out IResult result)
    {
        if (remoteTypeName.StartsWith("System.Argument", StringComparison.Ordinal))
        {
            result = BadRequest("invalid_argument", message);
            return true;
        }
        if (remoteTypeName.StartsWith("Npgsql.", StringComparison.Ordinal) || remoteTypeName.EndsWith(nameof(PostgreSqlUnavailableException), StringComparison.Ordinal))
        {
            result = Unavailable("storage_unavailable", message);
            return true;
        }
        result = null!;
        return false;
    }

    private static IResult Conflict(string error, string detail) => TypedResults.Conflict(new ApiError(error, detail));

    private static IResult Unavailable(string error, string detail)
        => TypedResults.Json(new ApiError(error, detail), statusCode: StatusCodes.Status503ServiceUnavailable);
}
