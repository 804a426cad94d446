using System.Net;
using Microsoft.Extensions.Options;
using OrleansSessions.Messaging;

namespace OrleansSessions.Runtime.Hosting;

/// <summary>Fails startup with a message naming the offending key.</summary>
internal sealed class SiloOptionsValidator(IOptions<SecurityOptions> security) : IValidateOptions<SiloOptions>, IValidateOptions<ClusterOptions>, IValidateOptions<MessagingOptions>, IValidateOptions<GrainCollectionOptions>
{
    public ValidateOptionsResult Validate(string? name, SiloOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Host))
        {
            errors.Add("Silo:Host must not be empty.");
        }
        if (options.SiloPort is < 1 or > 65535)
        {
            errors.Add("Silo:SiloPort must be between 1 and 65535.");
        }
        if (options.GatewayPort is < 1 or > 65535)
        {
            errors.Add("Silo:GatewayPort must be between 1 and 65535.");
        }
        if (options.HttpPort is < 0 or > 65535)
        {
            errors.Add("Silo:HttpPort must be between 0 (no HTTP) and 65535.");
        }
        if (!string.IsNullOrWhiteSpace(options.Host) && !IsLoopback(options.Host) && string.IsNullOrEmpty(security.Value.ApiToken))
        {
            errors.Add($"Security:ApiToken must be set when Silo:Host ({options.Host}) is not a loopback address.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    public ValidateOptionsResult Validate(string? name, ClusterOptions options)
        => string.IsNullOrWhiteSpace(options.ClusterId) ? ValidateOptionsResult.Fail("Cluster:ClusterId must not be empty.") : ValidateOptionsResult.Success;

    public ValidateOptionsResult Validate(string? name, MessagingOptions options)
    {
        if (options.MaxFrameBytes < 1024)
        {
            return ValidateOptionsResult.Fail("Messaging:MaxFrameBytes must be at least 1024.");
        }
        if (options.ResponseTimeout <= TimeSpan.Zero)
        {
            return ValidateOptionsResult.Fail("Messaging:ResponseTimeout must be > 0.");
        }
        return ValidateOptionsResult.Success;
    }

    public ValidateOptionsResult Validate(string? name, GrainCollectionOptions options)
    {
        if (options.CollectionAge <= TimeSpan.Zero)
        {
            return ValidateOptionsResult.Fail("GrainCollection:CollectionAge must be > 0.");
        }
        if (options.CollectionQuantum <= TimeSpan.Zero)
        {
            return ValidateOptionsResult.Fail("GrainCollection:CollectionQuantum must be > 0.");
        }
        return ValidateOptionsResult.Success;
    }

    internal static bool IsLoopback(string host)
        => string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
}
