using OrleansSessions.Client;
using OrleansSessions.Sessions;

namespace OrleansSessions.ClientApp.Cli;

/// <summary>Connects to the cluster, runs one command and turns its failures into a message on stderr and an exit code.</summary>
internal static class CommandRunner
{
    /// <summary>Runs <paramref name="validate"/> (input checks, before any connection), then <paramref name="command"/> on a connected client.</summary>
    public static async Task<int> RunAsync(CliSettings settings, Action? validate, Func<IClusterClient, Output, CancellationToken, Task<int>> command, CancellationToken cancellationToken)
    {
        var output = new Output(settings.Json, Console.Out, Console.Error);
        try
        {
            validate?.Invoke();
            _ = ClientBuilder.ParseEndpoint(settings.Gateway);
            await using var client = await ConnectAsync(settings, cancellationToken).ConfigureAwait(false);
            return await command(client, output, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Ok;
        }
        catch (Exception ex)
        {
            var (code, message) = Describe(ex, settings);
            await output.Error.WriteLineAsync($"error: {message}").ConfigureAwait(false);
            return code;
        }
    }

    public static async Task<IClusterClient> ConnectAsync(CliSettings settings, CancellationToken cancellationToken)
        => await new ClientBuilder()
            .UseGateways(settings.Gateway)
            .Configure(o =>
            {
                o.ApiToken = settings.Token;
                o.ClusterId = settings.ClusterId;
                o.ConnectTimeout = settings.ConnectTimeout;
            })
            .ConnectAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>The exit code and one-line message for a failure.</summary>
    public static (int Code, string Message) Describe(Exception exception, CliSettings settings) => exception switch
    {
        SessionNotFoundException e => (ExitCodes.NotFound, $"not found: {e.Message}"),
        SessionExpiredException e => (ExitCodes.Conflict, $"expired: {e.Message}"),
        SessionClosedException e => (ExitCodes.Conflict, $"closed: {e.Message}"),
        SessionLimitExceededException e => (ExitCodes.Conflict, $"session limit: {e.Message}"),
        FormatException e => (ExitCodes.BadInput, $"bad input: {e.Message}"),
        ArgumentException e => (ExitCodes.BadInput, $"bad input: {StripParameter(e)}"),
        GrainCallException { RemoteTypeName: { } type } e when type.StartsWith("System.Argument", StringComparison.Ordinal) => (ExitCodes.BadInput, $"bad input: {e.Message}"),
        SiloUnavailableException e => (ExitCodes.Unavailable, $"unavailable ({settings}): {e.Message}"),
        TimeoutException e => (ExitCodes.Unavailable, $"no answer in time ({settings}): {e.Message}"),
        _ => (ExitCodes.Failure, $"{exception.GetType().Name}: {exception.Message}"),
    };

    private static string StripParameter(ArgumentException e)
        => e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
}
