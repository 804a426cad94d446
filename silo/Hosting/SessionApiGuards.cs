using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Net.Http.Headers;
using OrleansSessions.AspNetCore.Api;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>
/// The checks every request passes before an endpoint sees it, and the JSON bodies of answers that have none:
/// request target and header sizes (414/431), the Host header (loopback names only while Security:ApiToken is
/// empty), cross-origin writes (403), and {"error","detail"} on every 4xx/5xx answer an endpoint or the framework left
/// empty (404, 405, 408, 413, binding errors...); and the content type of a POST (415, <see cref="RequireJsonBody"/>).
/// </summary>
public static class SessionApiGuards
{
    /// <summary>Adds the guards and the JSON status pages; call before mapping the endpoints.</summary>
    public static IApplicationBuilder UseSessionApiGuards(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseStatusCodePages(WriteEmptyStatusAsync);
        app.Use(GuardAsync);
        return app;
    }

    private static Task GuardAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (request.Path.Value?.Length + request.QueryString.Value?.Length > HttpLimits.MaxRequestTargetLength)
        {
            return WriteAsync(context, StatusCodes.Status414UriTooLong, "uri_too_long", $"The path and query must be at most {HttpLimits.MaxRequestTargetLength} characters.");
        }
        if (HeadersSize(request.Headers) > HttpLimits.MaxRequestHeadersSize)
        {
            return WriteAsync(context, StatusCodes.Status431RequestHeaderFieldsTooLarge, "headers_too_large", $"The request headers must be at most {HttpLimits.MaxRequestHeadersSize} bytes in total.");
        }
        // Not HostFilteringOptions/AllowedHosts: its 400 has an HTML body or none, and it cannot allow all of 127.0.0.0/8 or
        // apply only while Security:ApiToken is empty.
        if (!context.RequestServices.GetRequiredService<SiloSettings>().HasApiToken && !IsLoopbackName(request.Host))
        {
            // Without a token only local callers are served; a foreign Host is a rebound DNS name or a proxy.
            return WriteAsync(context, StatusCodes.Status400BadRequest, "invalid_host", "Without Security:ApiToken this silo answers only to the host names localhost, 127.0.0.1 and [::1].");
        }
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method) && !HttpMethods.IsOptions(request.Method)
            && request.Headers.Origin.Count > 0 && !IsSameOrigin(request.Headers.Origin.ToString(), request.Host))
        {
            return WriteAsync(context, StatusCodes.Status403Forbidden, "cross_origin", "Requests that change state are not accepted from pages of another origin.");
        }
        return next(context);
    }

    /// <summary>
    /// Answers a POST to the endpoints of <paramref name="builder"/> whose body is not declared application/json with 415
    /// unsupported_media_type, under whatever prefix they are mapped: the "simple" content types a page of any site can
    /// send cross-origin without a preflight never reach an endpoint.
    /// </summary>
    public static TBuilder RequireJsonBody<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddEndpointFilter(static (context, next) =>
        {
            var request = context.HttpContext.Request;
            return HttpMethods.IsPost(request.Method) && !IsJsonOrEmpty(request)
                ? ValueTask.FromResult<object?>(TypedResults.Json(
                    new ApiError("unsupported_media_type", "A POST to /api needs 'Content-Type: application/json' (or no body at all)."),
                    statusCode: StatusCodes.Status415UnsupportedMediaType))
                : next(context);
        });
    }

    /// <summary>application/json (any charset), or no body and no content type (touch, janitor/run).</summary>
    private static bool IsJsonOrEmpty(HttpRequest request)
    {
        var contentType = request.ContentType;
        if (string.IsNullOrEmpty(contentType))
        {
            return request.ContentLength is null or 0 && !request.Headers.TransferEncoding.Any(v => v is not null && v.Contains("chunked", StringComparison.OrdinalIgnoreCase));
        }
        return MediaTypeHeaderValue.TryParse(contentType, out var parsed)
            && parsed.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsLoopbackName(HostString host)
    {
        if (!host.HasValue)
        {
            // HTTP/1.0 without Host: no browser sends that.
            return true;
        }
        var name = host.Host;
        if (name.Equals("localhost", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        return IPAddress.TryParse(name.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address);
    }

    private static bool IsSameOrigin(string origin, HostString host)
        => Uri.TryCreate(origin, UriKind.Absolute, out var uri) && host.HasValue
            && string.Equals(uri.Authority, host.Value, StringComparison.OrdinalIgnoreCase);

    private static long HeadersSize(IHeaderDictionary headers)
    {
        long size = 0;
        foreach (var (name, values) in headers)
        {
            size += name.Length + 4;
            foreach (var value in values)
            {
                size += value?.Length ?? 0;
            }
        }
        return size;
    }

    private static Task WriteEmptyStatusAsync(StatusCodeContext status)
    {
        var context = status.HttpContext;
        var request = context.Request;
        var code = context.Response.StatusCode;
        var (error, detail) = code switch
        {
            StatusCodes.Status400BadRequest => ("bad_request", "The request is malformed."),
            StatusCodes.Status404NotFound => ("not_found", $"There is nothing at {request.Path}."),
            StatusCodes.Status405MethodNotAllowed => ("method_not_allowed", $"{request.Method} is not allowed on {request.Path}."),
            StatusCodes.Status408RequestTimeout => ("request_timeout", "The request body arrived too slowly."),
            StatusCodes.Status413PayloadTooLarge => ("body_too_large", "The request body is too large."),
            StatusCodes.Status414UriTooLong => ("uri_too_long", "The path and query are too long."),
            StatusCodes.Status415UnsupportedMediaType => ("unsupported_media_type", "The body must be application/json."),
            StatusCodes.Status431RequestHeaderFieldsTooLarge => ("headers_too_large", "The request headers are too large."),
            _ => ("http_" + code.ToString(System.Globalization.CultureInfo.InvariantCulture), "The request could not be served."),
        };
        return context.Response.WriteAsJsonAsync(new ApiError(error, detail));
    }

    private static Task WriteAsync(HttpContext context, int statusCode, string error, string detail)
    {
        context.Response.StatusCode = statusCode;
        return context.Response.WriteAsJsonAsync(new ApiError(error, detail));
    }
}
