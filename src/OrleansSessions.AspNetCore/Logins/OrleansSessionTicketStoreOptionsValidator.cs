using Microsoft.Extensions.Options;
using OrleansSessions.Sessions;

namespace OrleansSessions.AspNetCore.Logins;

/// <summary>Checks <see cref="OrleansSessionTicketStoreOptions"/>; each failure names its property.</summary>
public sealed class OrleansSessionTicketStoreOptionsValidator : IValidateOptions<OrleansSessionTicketStoreOptions>
{
    private static readonly TimeSpan MinTimeout = TimeSpan.FromSeconds(1);

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, OrleansSessionTicketStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.UserIdClaimType))
        {
            failures.Add("UserIdClaimType must not be empty");
        }
        if (!SessionKeys.IsValidDataKey(options.AttributeKey))
        {
            failures.Add($"AttributeKey '{options.AttributeKey}' is not an attribute key: {SessionKeys.DataKeyRule}");
        }
        foreach (var (property, label) in new[] { ("UserAgentLabel", options.UserAgentLabel), ("RemoteAddressLabel", options.RemoteAddressLabel) })
        {
            if (label is not null && !SessionKeys.IsValidDataKey(label))
            {
                failures.Add($"{property} '{label}' is not a label key: {SessionKeys.DataKeyRule}");
            }
        }
        if (options.UserAgentLabel is not null && string.Equals(options.UserAgentLabel, options.RemoteAddressLabel, StringComparison.Ordinal))
        {
            failures.Add("UserAgentLabel and RemoteAddressLabel must differ");
        }
        if (options.IdleTimeout < MinTimeout)
        {
            failures.Add($"IdleTimeout must be null or >= 1 s (got {options.IdleTimeout})");
        }
        if (options.AbsoluteTimeout < MinTimeout)
        {
            failures.Add($"AbsoluteTimeout must be null or >= 1 s (got {options.AbsoluteTimeout})");
        }
        return failures.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(failures.Select(f => $"OrleansSessionTicketStoreOptions ('{name}'): {f}"));
    }
}
