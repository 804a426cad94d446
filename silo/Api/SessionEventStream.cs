using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using OrleansSessions.Sessions;

namespace OrleansSessions.SiloHost.Api;

/// <summary>
/// GET /api/events: session events of the whole cluster as server-sent events, one "data:" message per event,
/// flushed as it comes, with a comment line every <see cref="SessionApiOptions.HeartbeatInterval"/>.
/// </summary>
internal static class SessionEventStream
{
    private static readonly byte[] Connected = Encoding.UTF8.GetBytes(": connected\n\n");
    private static readonly byte[] Heartbeat = Encoding.UTF8.GetBytes(": heartbeat\n\n");
    private static readonly byte[] DataPrefix = Encoding.UTF8.GetBytes("data: ");
    private static readonly byte[] MessageEnd = Encoding.UTF8.GetBytes("\n\n");

    public static async Task<IResult> StreamAsync(HttpContext context, IClusterClient client, IOptions<SessionApiOptions> options, string? userId)
    {
        if (userId is not null && !SessionKeys.IsValidUserId(userId))
        {
            return ApiErrors.BadRequest("invalid_user_id", "A user id has 1 to 128 characters and no control characters.");
        }
        var settings = options.Value;
        var cancellationToken = context.RequestAborted;
        var channel = Channel.CreateBounded<SessionEvent>(new BoundedChannelOptions(settings.EventBufferSize)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
            SingleWriter = false,
        });
        var subscription = await client.SubscribeAsync<SessionEvent>(SessionTopics.Events, e =>
        {
            if (userId is null || string.Equals(e.Session.UserId, userId, StringComparison.Ordinal))
            {
                channel.Writer.TryWrite(e);
            }
            return ValueTask.CompletedTask;
        }, cancellationToken).ConfigureAwait(false);
        await using (subscription.ConfigureAwait(false))
        {
            var response = context.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            response.Headers["X-Accel-Buffering"] = "no";
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            var body = response.Body;
            try
            {
                // The subscription is in place before this line reaches the caller: nothing published after it is missed.
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
                            ready = await channel.Reader.WaitToReadAsync(wait.Token).ConfigureAwait(false);
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
                    while (channel.Reader.TryRead(out var evt))
                    {
                        await body.WriteAsync(DataPrefix, cancellationToken).ConfigureAwait(false);
                        await JsonSerializer.SerializeAsync(body, evt, SessionJson.Options, cancellationToken).ConfigureAwait(false);
                        await body.WriteAsync(MessageEnd, cancellationToken).ConfigureAwait(false);
                        await body.FlushAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The caller went away.
            }
            catch (IOException) when (cancellationToken.IsCancellationRequested)
            {
            }
        }
        return Results.Empty;
    }
}
