using System.Data.Common;
using System.Globalization;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>Describes the failures a silo may meet at start because of its environment, in one line without a stack trace.</summary>
public static partial class StartupFailure
{
    /// <summary>
    /// True for a known failure (port in use, invalid configuration, PostgreSQL or Redis unreachable), with a one-line
    /// <paramref name="message"/> naming the key or port. <paramref name="configuration"/> resolves a port to its key.
    /// </summary>
    public static bool TryDescribe(Exception exception, IConfiguration? configuration, out string message)
    {
        ArgumentNullException.ThrowIfNull(exception);
        foreach (var e in Flatten(exception))
        {
            switch (e)
            {
                case SiloConfigurationException:
                    message = OneLine(e.Message);
                    return true;
                case OptionsValidationException validation:
                    message = OneLine("Invalid configuration: " + string.Join("; ", validation.Failures));
                    return true;
                case OrleansConfigurationException:
                    message = OneLine("Invalid configuration: " + e.Message);
                    return true;
                case InvalidOperationException when ConversionPattern().Match(e.Message) is { Success: true } conversion:
                    // Binding Sessions:IdleTimeout=soon onto a TimeSpan, for example.
                    message = OneLine($"Invalid configuration: {conversion.Groups["key"].Value} '{conversion.Groups["value"].Value}' is not a valid {ShortTypeName(conversion.Groups["type"].Value)}");
                    return true;
                case AddressInUseException:
                case IOException when e.InnerException is AddressInUseException:
                case SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }:
                    message = DescribePortInUse(e.Message, configuration);
                    return true;
                case SocketException { SocketErrorCode: SocketError.AddressNotAvailable }:
                    message = OneLine($"Silo:Host cannot be bound on this machine: {e.Message}");
                    return true;
                case DbException:
                    message = OneLine($"PostgreSQL is unreachable or refused the connection (Storage:ConnectionString): {e.Message}");
                    return true;
                case not null when e.GetType().FullName is { } name && (name.StartsWith("Npgsql.", StringComparison.Ordinal) || name.StartsWith("OrleansSessions.PostgreSql.", StringComparison.Ordinal)):
                    message = OneLine($"PostgreSQL is unreachable (Storage:ConnectionString): {e.Message}");
                    return true;
                case not null when e.GetType().FullName is { } name && name.StartsWith("OrleansSessions.Redis.", StringComparison.Ordinal):
                    // RedisUnavailableException: "Redis at host:port is unreachable (Storage:ConnectionString): ...".
                    message = OneLine(e.Message);
                    return true;
                case not null when e.GetType().FullName is { } name && name.StartsWith("StackExchange.Redis.", StringComparison.Ordinal):
                    message = OneLine($"Redis is unreachable (Storage:ConnectionString): {e.Message}");
                    return true;
                default:
                    break;
            }
        }
        message = "";
        return false;
    }

    private static string DescribePortInUse(string text, IConfiguration? configuration)
    {
        var match = PortPattern().Match(text);
        if (!match.Success || !int.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            return OneLine($"A silo port is already in use (Silo:SiloPort, Silo:GatewayPort or Silo:HttpPort): {text}");
        }
        var key = "Silo:HttpPort";
        if (configuration is not null)
        {
            var endpoint = SiloOptionsBinding.BindOrDefault<HostEndpointOptions>(configuration, HostEndpointOptions.SectionName);
            if (endpoint.SiloPort == port)
            {
                key = "Silo:SiloPort";
            }
            else if (endpoint.GatewayPort == port)
            {
                key = "Silo:GatewayPort";
            }
        }
        return SiloSettings.PortInUseMessage(key, port);
    }

    private static string ShortTypeName(string typeName)
    {
        var dot = typeName.LastIndexOf('.');
        return dot < 0 ? typeName : typeName[(dot + 1)..];
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();

    private static IEnumerable<Exception> Flatten(Exception exception)
    {
        var pending = new Stack<Exception>();
        pending.Push(exception);
        while (pending.Count > 0)
        {
            var e = pending.Pop();
            yield return e;
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions)
                {
                    pending.Push(inner);
                }
            }
            else if (e.InnerException is not null)
            {
                pending.Push(e.InnerException);
            }
        }
    }

    [GeneratedRegex(@":(\d{1,5})(?!\d)")]
    private static partial Regex PortPattern();

    [GeneratedRegex(@"Failed to convert configuration value (?:'(?<value>[^']*)' )?at '(?<key>[^']+)' to type '(?<type>[^']+)'")]
    private static partial Regex ConversionPattern();
}
