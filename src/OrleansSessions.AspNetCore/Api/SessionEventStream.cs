using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using OrleansSessions.Sessions;

namespace OrleansSessions.AspNetCore.Api;

/// <summary>
/// GET /api/events: session events of the whole cluster as server-sent events, one message per event (its cursor as
/// "id:", the event as "data:"), flushed as it comes, with a comment line every
/// <see cref="SessionApiOptions.HeartbeatInterval"/>. With Last-Event-ID (or ?after=) it first replays what the event
/// log recorded after that cursor, then joins this silo's <see cref="SessionEventHub"/> live feed at the point it read
/// through: no gap and no duplicate at the seam.
/// </summary>
internal static class SessionEventStream
{
    private static readonly byte[] Connected = Encoding.UTF8.GetBytes(": connected\n\n");
    private static readonly byte[] Heartbeat = Encoding.UTF8.GetBytes(": heartbeat\n\n");

    public static async Task<IResult> StreamAsync(HttpContext context, SessionEventHub hub, IOptions<SessionApiOptions> options, string? userId, string? after)
    {
        if (userId is not null && !SessionKeys.IsValidUserId(userId))
        {
            return ApiErrors.BadRequest("invalid_user_id", SessionKeys.UserIdRule);
        }
        // The browser's EventSource sends Last-Event-ID when it reconnects; it wins over the ?after= of its first URL.
        var lastEventId = context.Request.Headers["Last-Event-ID"].ToString();
        var cursor = lastEventId.Length > 0 ? lastEventId.Trim() : after;
        if (cursor is not null && cursor != ISessionEventLogGrain.Start && !SessionEventCursor.TryParse(cursor, out _))
        {
            return ApiErrors.BadRequest("invalid_cursor", SessionEventCursor.Rule);
        }
        var settings = options.Value;
        var cancellationToken = context.RequestAborted;
        SessionEventPage? replay = null;
        if (cursor is not null)
        {
            // Read before the answer starts, so that an expired or foreign cursor gets its status code.
            try
            {
                replay = await hub.Log.ReadAsync(cursor, SessionEventHub.PageSize, userId).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (EventCursorExpiredException e)
            {
                return TypedResults.Json(new CursorExpiredError("cursor_expired", e.Message, e.OldestCursor), statusCode: StatusCodes.Status410Gone);
            }
            catch (ArgumentException e)
            {
                return ApiErrors.BadRequest("invalid_cursor", e.Message.Split(" (Parameter", 2)[0]);
            }
        }
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
            // The silo follows the log before this line reaches the caller: nothing recorded after it is missed.
            await hub.Subscribed.WaitAsync(cancellationToken).ConfigureAwait(false);
            stalled.CancelAfter(settings.SendTimeout);
            await body.WriteAsync(Connected, send.Token).ConfigureAwait(false);
            await body.FlushAsync(send.Token).ConfigureAwait(false);
            stalled.CancelAfter(Timeout.InfiniteTimeSpan);
            if (replay is null)
            {
                hub.TryJoin(listener, null);
            }
            else
            {
                // Replay from the log until this connection has read everything the live feed has sent, then join it.
                while (true)
                {
                    foreach (var item in replay.Events)
                    {
                        stalled.CancelAfter(settings.SendTimeout);
                        await body.WriteAsync(SessionEventHub.Serialize(item), send.Token).ConfigureAwait(false);
                    }
                    stalled.CancelAfter(settings.SendTimeout);
                    await body.FlushAsync(send.Token).ConfigureAwait(false);
                    stalled.CancelAfter(Timeout.InfiniteTimeSpan);
                    if (SessionEventCursor.TryParse(replay.Cursor, out var positions) && hub.TryJoin(listener, positions))
                    {
                        break;
                    }
                    cursor = replay.Cursor;
                    replay = await hub.Log.ReadAsync(cursor, SessionEventHub.PageSize, userId).WaitAsync(cancellationToken).ConfigureAwait(false);
                }
            }
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

    /// <summary>The body of 410 cursor_expired: the error and the oldest cursor the log still holds.</summary>
    internal sealed record CursorExpiredError(string Error, string Detail, string OldestCursor);
}
