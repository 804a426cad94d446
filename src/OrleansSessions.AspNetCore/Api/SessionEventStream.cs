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
        var address = context.Connection.RemoteIpAddress;
        using var listener = hub.TryListen(userId, settings.EventBufferSize, settings.MaxSubscribers, address, settings.MaxSubscribersPerAddress, out var addressFull);
        if (listener is null)
        {
            context.Response.Headers.RetryAfter = "5";
            return TypedResults.Json(
                new ApiError("too_many_subscribers", addressFull
                    ? $"This silo already serves {settings.MaxSubscribersPerAddress} event streams to {address} (Sse:MaxSubscribersPerAddress); close one or try again later."
                    : $"This silo already serves {settings.MaxSubscribers} event streams (Sse:MaxSubscribers); try again later or another silo."),
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
        // Every write must finish within Sse:SendTimeout. A caller that stops reading fills its connection's buffers,
        // and its writes then wait: without a bound it would hold its place (Sse:MaxSubscribers) for as long as it
        // keeps the connection open, whatever Kestrel's response data rate says.
        using var stalled = new CancellationTokenSource();
        using var send = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stalled.Token);
        try
        {
            // The silo's stream subscription is in place before this line reaches the caller: nothing published after it is missed.
            await hub.Subscribed.WaitAsync(cancellationToken).ConfigureAwait(false);
            stalled.CancelAfter(settings.SendTimeout);
            await body.WriteAsync(Connected, send.Token).ConfigureAwait(false);
            await body.FlushAsync(send.Token).ConfigureAwait(false);
            stalled.CancelAfter(Timeout.InfiniteTimeSpan);
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
                        stalled.CancelAfter(settings.SendTimeout);
                        await body.WriteAsync(Heartbeat, send.Token).ConfigureAwait(false);
                        await body.FlushAsync(send.Token).ConfigureAwait(false);
                        stalled.CancelAfter(Timeout.InfiniteTimeSpan);
                        continue;
                    }
                }
                if (!ready)
                {
                    break;
                }
                while (reader.TryRead(out var message))
                {
                    // From the last write that completed: a subscriber that reads slowly but steadily stays.
                    stalled.CancelAfter(settings.SendTimeout);
                    await body.WriteAsync(message, send.Token).ConfigureAwait(false);
                }
                stalled.CancelAfter(settings.SendTimeout);
                await body.FlushAsync(send.Token).ConfigureAwait(false);
                stalled.CancelAfter(Timeout.InfiniteTimeSpan);
            }
        }
        catch (OperationCanceledException) when (stalled.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // Not reading: drop the connection (ending the request alone would wait on the same full buffers).
            context.Abort();
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
