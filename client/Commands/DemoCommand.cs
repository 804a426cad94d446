using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using OrleansSessions.Client;
using OrleansSessions.ClientApp.Cli;
using OrleansSessions.Sessions;

namespace OrleansSessions.ClientApp.Commands;

/// <summary>
/// demo: plays the timeline of the Python SessionManager's documentation against the running silo (message at 14:00,
/// message at 14:15 sliding the deadline to 14:45, message at 14:50 finding the session expired), with 30 minutes
/// scaled to the silo's Sessions:IdleTimeout, and shows the conversation the session holds: read back while it lives,
/// gone (session_data_deleted) once it has ended. With a long timeout it shows the same features as explicit steps.
/// </summary>
internal static class DemoCommand
{
    private static readonly TimeSpan SeedTimeout = TimeSpan.FromMinutes(30);
    private static readonly TimeSpan LongestTimelineTimeout = TimeSpan.FromSeconds(60);
    private static readonly DateTime SeedStart = new(2025, 11, 10, 14, 0, 0, DateTimeKind.Unspecified);

    public static Command Create(GlobalOptions global)
    {
        var user = new Option<string?>("--user", "-u") { Description = "The demo user (default: a new demo-xxxxxx)." };
        var language = new Option<string>("--lang") { Description = "Reply language.", DefaultValueFactory = _ => "en" };
        language.AcceptOnlyFromAmong("en", "es");
        var command = new Command("demo", "Plays the seed's session timeline (14:00 create, 14:15 touch, 14:50 expired) scaled to the silo's idle timeout, with the conversation the session holds and loses at its end.") { user, language };
        command.SetAction((parse, cancellationToken) =>
        {
            var userId = parse.GetValue(user) ?? "demo-" + Guid.NewGuid().ToString("N")[..6];
            var lang = parse.GetValue(language) ?? "en";
            return CommandRunner.RunAsync(global.Read(parse), () => SessionKeys.ThrowIfInvalidUserId(userId),
                (client, output, ct) => new Demo(client, output, userId, lang).RunAsync(ct), cancellationToken);
        });
        return command;
    }

    private sealed class Demo(IClusterClient client, Output output, string userId, string language)
    {
        private readonly ChatRouter _router = new(client, language);
        private readonly Stopwatch _clock = new();
        private readonly Lock _gate = new();
        private double _scale = 1;

        public async Task<int> RunAsync(CancellationToken cancellationToken)
        {
            await using var events = await client.SubscribeToSessionEventsAsync(OnEventAsync, cancellationToken).ConfigureAwait(false);
            Say($"demo user {userId}");

            _clock.Start();
            var first = await _router.HandleRequestAsync(userId, "Hola, quiero reservar una mesa", cancellationToken).ConfigureAwait(false);
            var idle = first.Session.ExpiresAt - first.Session.LastActivity;
            if (idle > LongestTimelineTimeout)
            {
                return await StepsAsync(first, idle, cancellationToken).ConfigureAwait(false);
            }
            _scale = idle / SeedTimeout;
            Say($"Sessions:IdleTimeout is {idle}: 30 seed minutes last {idle.TotalSeconds:0.###} s here (x{1 / _scale:0.#} faster)");
            Step(TimeSpan.Zero, "message #1: no session yet, one is created", first);

            await AtAsync(TimeSpan.FromMinutes(15), cancellationToken).ConfigureAwait(false);
            // The later steps count from this touch, not from the start, so a slow answer cannot eat their margins:
            // the check at 14:40 is due 25 seed minutes after the touch was sent (before its deadline whenever the
            // grain took it), the message at 14:50 35 minutes after its answer came (past the deadline whenever).
            var sent = _clock.Elapsed;
            var second = await _router.HandleRequestAsync(userId, "Para dos personas", cancellationToken).ConfigureAwait(false);
            var answered = _clock.Elapsed;
            Step(TimeSpan.FromMinutes(15), $"message #2: touch, last_activity = 14:15, valid until {Seed(TimeSpan.FromMinutes(45))}", second);
            if (second.Session.SessionId != first.Session.SessionId)
            {
                return Fail("message #2 should have stayed in the first session");
            }
            var held = await client.GetGrain<ISessionGrain>(first.Session.SessionId).GetMessagesAsync().ConfigureAwait(false);
            Step(TimeSpan.FromMinutes(15), $"the session holds the conversation: {held.Messages.Count} messages (each message and its reply, appended together), read back", held);
            if (held.Messages.Count != 4)
            {
                return Fail("the session should hold the 4 messages of 2 chat turns");
            }

            await UntilAsync(sent + TimeSpan.FromMinutes(25) * _scale, cancellationToken).ConfigureAwait(false);
            var active = await client.GetGrain<ISessionGrain>(first.Session.SessionId).IsActiveAsync().ConfigureAwait(false);
            Step(TimeSpan.FromMinutes(40), $"is_active() = {(active ? "true" : "false")} (5 seed minutes before the deadline)", null);
            if (!active)
            {
                return Fail("the session should still be active at 14:40");
            }

            await UntilAsync(answered + TimeSpan.FromMinutes(35) * _scale, cancellationToken).ConfigureAwait(false);
            var third = await _router.HandleRequestAsync(userId, "¿A qué hora?", cancellationToken).ConfigureAwait(false);
            Step(TimeSpan.FromMinutes(50), "message #3: 35 seed minutes without activity: SESSION TIMEOUT, a new session is needed", third);
            if (third.Reply != _router.ExpiredMessage || third.Session.SessionId == first.Session.SessionId)
            {
                return Fail("message #3 should have found the session expired");
            }

            var ended = await client.GetGrain<ISessionGrain>(first.Session.SessionId).GetAsync().ConfigureAwait(false);
            Step(TimeSpan.FromMinutes(50), $"the first session ended at its deadline ({Real(ended.EndedAt)}, seed {Seed(TimeSpan.FromMinutes(45))}) with reason {Reason(ended)}", ended);
            await ShowConversationEndedAsync(first.Session.SessionId, TimeSpan.FromMinutes(50)).ConfigureAwait(false);
            var history = await client.GetGrain<IUserSessionsGrain>(userId).GetHistoryAsync(10).ConfigureAwait(false);
            Say($"history of {userId}: {history.Count} ended session(s), newest first");
            foreach (var session in history)
            {
                Say("  " + Output.Describe(session));
            }
            Say("done: the seed's timeline holds, exactly at the deadline and without a cleanup thread; the conversation ended with its session");
            return ExitCodes.Ok;
        }

        private async Task<int> StepsAsync(ChatReply first, TimeSpan idle, CancellationToken cancellationToken)
        {
            Say($"note: Sessions:IdleTimeout is {idle}; the seed's timeline (14:00 to 14:50) would take {(idle / SeedTimeout * 50):0.#} real minutes.");
            Say("      Showing the same features as explicit steps. To watch the timeline play in seconds, run:");
            Say("        dotnet run --project silo -- --Sessions:IdleTimeout=00:00:06");
            Say("        dotnet run --project client -- demo");
            Step(null, "chat message #1: no session yet, one is created", first);
            var session = first.Session.SessionId;
            var touched = await client.GetGrain<ISessionGrain>(session).TouchAsync().ConfigureAwait(false);
            Step(null, "touch: last activity now, the idle deadline slides", touched);
            var status = await client.GetGrain<ISessionGrain>(session).GetAsync().ConfigureAwait(false);
            Step(null, "status", status);
            var attributes = await client.GetGrain<ISessionGrain>(session)
                .UpdateAttributesAsync(new Dictionary<string, string?> { ["lang"] = "\"es\"", ["party"] = "2" }).ConfigureAwait(false);
            Step(null, "attrs set lang=es party=2: the chat's context, held by the session", attributes);
            var second = await _router.HandleRequestAsync(userId, "Para dos personas", cancellationToken).ConfigureAwait(false);
            Step(null, "chat message #2: answered from the conversation so far, and appended to it", second);
            var held = await client.GetGrain<ISessionGrain>(session).GetMessagesAsync().ConfigureAwait(false);
            Step(null, $"messages: the session holds the conversation, {held.Messages.Count} messages (each message and its reply, appended together)", held);
            var closed = await client.GetGrain<ISessionGrain>(session).CloseAsync().ConfigureAwait(false);
            Step(null, "close (logout): the session ends at once", closed);
            await ShowConversationEndedAsync(session, null).ConfigureAwait(false);
            var again = await _router.HandleRequestAsync(userId, "¿Sigo conectado?", cancellationToken).ConfigureAwait(false);
            Step(null, "chat message #3 after the logout: a new session is needed", again);
            var count = await client.GetGrain<IUserSessionsGrain>(userId).CloseAllAsync().ConfigureAwait(false);
            Say($"{Now()}  logout of all of {userId}'s sessions: {count} closed");
            var history = await client.GetGrain<IUserSessionsGrain>(userId).GetHistoryAsync(10).ConfigureAwait(false);
            Say($"history of {userId}: {history.Count} ended session(s), newest first");
            foreach (var ended in history)
            {
                Say("  " + Output.Describe(ended));
            }
            return ExitCodes.Ok;
        }

        /// <summary>Reads an ended session's conversation: gone with it (session_data_deleted), or kept read-only for the silo's Sessions:DataRetention.</summary>
        private async Task ShowConversationEndedAsync(string sessionId, TimeSpan? seedOffset)
        {
            try
            {
                var retained = await client.GetGrain<ISessionGrain>(sessionId).GetMessagesAsync().ConfigureAwait(false);
                Step(seedOffset, $"messages of the ended session: kept read-only for the silo's Sessions:DataRetention ({retained.Messages.Count} messages), then deleted", retained);
            }
            catch (SessionDataDeletedException)
            {
                Step(seedOffset, "messages of the ended session: gone with it (session_data_deleted); nothing to clean up", null);
            }
        }

        private Task OnEventAsync(SessionEvent e)
        {
            if (string.Equals(e.Session.UserId, userId, StringComparison.Ordinal))
            {
                if (output.Json)
                {
                    lock (_gate)
                    {
                        output.WriteJson(new { step = "event", e.Type, e.At, e.Session });
                    }
                }
                else
                {
                    Say($"{Now()}  {SeedLabel(_clock.Elapsed)}  event {Output.Describe(e)}");
                }
            }
            return Task.CompletedTask;
        }

        private Task AtAsync(TimeSpan seedOffset, CancellationToken cancellationToken) => UntilAsync(seedOffset * _scale, cancellationToken);

        private async Task UntilAsync(TimeSpan elapsed, CancellationToken cancellationToken)
        {
            var due = elapsed - _clock.Elapsed;
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due, cancellationToken).ConfigureAwait(false);
            }
        }

        private void Step(TimeSpan? seedOffset, string what, object? result)
        {
            if (output.Json)
            {
                lock (_gate)
                {
                    output.WriteJson(new
                    {
                        step = what,
                        at = DateTimeOffset.UtcNow,
                        seedTime = seedOffset is { } offset ? Seed(offset) : null,
                        reply = (result as ChatReply)?.Reply,
                        session = result switch { ChatReply r => r.Session, SessionInfo s => s, _ => null },
                        data = result switch { SessionConversation or SessionAttributes => result, _ => null },
                    });
                }
                return;
            }
            var label = seedOffset is { } o ? Seed(o) : "     ";
            Say($"{Now()}  {label}  {what}");
            switch (result)
            {
                case ChatReply reply:
                    Say($"                      reply: {reply.Reply}");
                    Say($"                      {Output.Describe(reply.Session)}");
                    break;
                case SessionInfo session:
                    Say($"                      {Output.Describe(session)}");
                    break;
                case SessionConversation conversation:
                    foreach (var message in conversation.Messages)
                    {
                        Say($"                      {Output.Describe(message)}");
                    }
                    break;
                case SessionAttributes attributes:
                    foreach (var (key, value) in attributes.Attributes.OrderBy(a => a.Key, StringComparer.Ordinal))
                    {
                        Say($"                      {key} = {value}");
                    }
                    break;
                default:
                    break;
            }
        }

        private int Fail(string what)
        {
            output.Error.WriteLine($"error: demo failed: {what}");
            return ExitCodes.Failure;
        }

        private void Say(string line)
        {
            if (!output.Json)
            {
                lock (_gate)
                {
                    output.Out.WriteLine(line);
                    output.Out.Flush();
                }
            }
        }

        private string SeedLabel(TimeSpan elapsed) => _scale == 1 ? "     " : Seed(elapsed / _scale);

        private static string Seed(TimeSpan offset) => (SeedStart + offset).ToString("HH:mm", CultureInfo.InvariantCulture);

        private static string Now() => DateTime.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture) + "Z";

        private static string Real(DateTimeOffset? time) => time is { } t ? t.UtcDateTime.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture) + "Z" : "-";

        private static string Reason(SessionInfo s) => s.EndReason is { } r ? System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(r.ToString()) : "-";
    }
}
