using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using OrleansSessions.Sessions;

namespace OrleansSessions.AspNetCore.Api;

/// <summary>
/// GET /api/events: session events of the whole cluster as server-sent events, one "data:" message per event,
/// flushed as it comes, with a comment line every <see cref="SessionApiOptions.HeartbeatInterval"/>. Fed by this
/// silo's <see cref="SessionEventHub"/>.
/// </summary>
internal static class SessionEventStream
{
    private static readonly byte[] Connected = Encoding.UTF8.GetBytes(": connected\n\n");
    private static readonly byte[] Heartbeat = Encoding.UTF8.GetBytes(": heartbeat\n\n");

    public static async Task<IResult> StreamAsync(HttpContext context, SessionEventHub hub, IOptions<SessionApiOptions> options, string? userId)
    {
        if (userId is not null && !SessionKeys.IsValidUserId(userId))
        {
            return ApiErrors.BadRequest("invalid_user_id", SessionKeys.UserIdRule);
        }
        var settings = options.Value;
        var cancellationToken = context.RequestAborted;
        using var listener = hub.TryListen(userId, settings.EventBufferSize, settings.MaxSubscribers);
        if (listener is null)
        {
            context.Response.Headers.RetryAfter = "5";
            return TypedResults.Json(
                new ApiError("too_many_subscribers", $"This silo already serves {settings.MaxSubscribers} event streams (Sse:MaxSubscribers); try again later or another silo."),
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var body = response.Body;
        var reader = listener.Events.Reader;
        try
        {
            // The silo's stream subscription is in place before this line reaches the caller: nothing published after it is missed.
            await hub.Subscribed.WaitAsync(cancellationToken).ConfigureAwait(false);
            await body.WriteAsync(Connected, cancellationToken).ConfigureAwait(false);
            await body.FlushAsync(cancellationToken).ConfigureAwait(false);
            while (true)
            {
                bool ready;
                using (var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    wait.CancelAfter(settings.HeartbeatInterval);
                    try
                    {
                        ready = await reader.WaitToReadAsync(wait.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        await body.WriteAsync(Heartbeat, cancellationToken).ConfigureAwait(false);
                        await body.FlushAsync(cancellationToken).ConfigureAwait(false);
                        continue;
                    }
                }
                if (!ready)
                {
                    break;
                }
                while (reader.TryRead(out var message))
                {
                    await body.WriteAsync(message, cancellationToken).ConfigureAwait(false);
                }
                await body.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The caller went away.
        }
        catch (IOException) when (cancellationToken.IsCancellationRequested)
        {
        }
        return Results.Empty;
    }
}
