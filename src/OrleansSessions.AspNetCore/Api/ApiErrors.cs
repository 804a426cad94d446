using System.Text.Json;
using Microsoft.AspNetCore.Http;
using OrleansSessions.Sessions;

namespace OrleansSessions.AspNetCore.Api;

/// <summary>Turns the exceptions of grain calls and request parsing into HTTP answers with an <see cref="ApiError"/> body.</summary>
internal static class ApiErrors
{
    public static IResult BadRequest(string error, string detail) => TypedResults.BadRequest(new ApiError(error, detail));

    public static IResult NotFound(string error, string detail) => TypedResults.NotFound(new ApiError(error, detail));

    /// <summary>Kestrel's verdicts on a request body in the caller's terms: 413 too large, 408 too slow, else 400.</summary>
    private static IResult FromBadRequest(BadHttpRequestException e) => e.StatusCode switch
    {
        StatusCodes.Status413PayloadTooLarge => TypedResults.Json(new ApiError("body_too_large", "The request body is larger than this silo accepts (Http:MaxRequestBodySize)."), statusCode: StatusCodes.Status413PayloadTooLarge),
        StatusCodes.Status408RequestTimeout => TypedResults.Json(new ApiError("request_timeout", "The request body arrived too slowly."), statusCode: StatusCodes.Status408RequestTimeout),
        _ => BadRequest("bad_request", "The request is malformed or its body ended early."),
    };

    /// <summary>
    /// Maps a known exception through <see cref="SessionFailure.Classify"/> (the one classification of the service):
    /// BadInput 400, NotFound 404, Conflict 409, TooLarge 413 (with the bound, <see cref="DataTooLargeError"/>), Gone 410,
    /// Unavailable 503; version_conflict carries the current data version (<see cref="VersionConflictError"/>). False
    /// for anything that is the service's own fault.
    /// </summary>
    public static bool TryMap(Exception exception, out IResult result)
    {
        switch (exception)
        {
            // Request parsing, before any grain call.
            case JsonException:
                result = BadRequest("invalid_json", "The body is not valid JSON.");
                return true;
            case BadHttpRequestException e:
                result = FromBadRequest(e);
                return true;
        }
        var failure = SessionFailure.Classify(exception);
        result = WithDetails(exception, failure) ?? failure.Kind switch
        {
            SessionFailureKind.BadInput => BadRequest(failure.Code, failure.Detail),
            SessionFailureKind.NotFound => NotFound(failure.Code, failure.Detail),
            SessionFailureKind.Conflict => TypedResults.Conflict(new ApiError(failure.Code, failure.Detail)),
            SessionFailureKind.Unavailable => TypedResults.Json(new ApiError(failure.Code, failure.Detail), statusCode: StatusCodes.Status503ServiceUnavailable),
            SessionFailureKind.TooLarge => TypedResults.Json(new ApiError(failure.Code, failure.Detail), statusCode: StatusCodes.Status413PayloadTooLarge),
            SessionFailureKind.Gone => TypedResults.Json(new ApiError(failure.Code, failure.Detail), statusCode: StatusCodes.Status410Gone),
            _ => null!,
        };
        return result is not null;
    }

    /// <summary>The session data failures whose bodies say more than their code: the bound exceeded, the version to retry with.</summary>
    private static IResult? WithDetails(Exception exception, SessionFailure failure) => Unwrap(exception) switch
    {
        SessionDataTooLargeException e => TypedResults.Json(
            new DataTooLargeError(failure.Code, failure.Detail, e.Bound.Length > 0 ? e.Bound : null, e.Bound.Length > 0 ? e.Limit : null),
            statusCode: StatusCodes.Status413PayloadTooLarge),
        SessionVersionConflictException e => TypedResults.Conflict(new VersionConflictError(failure.Code, failure.Detail, e.CurrentVersion)),
        _ => null,
    };

    private static Exception Unwrap(Exception exception)
        => exception is AggregateException { InnerExceptions.Count: 1 } aggregate ? aggregate.InnerExceptions[0] : exception;
}
