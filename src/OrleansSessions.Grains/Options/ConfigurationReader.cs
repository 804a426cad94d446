using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace OrleansSessions.Grains.Options;

/// <summary>
/// Reads option values from a configuration section the way the standard binder does (invariant culture,
/// case-insensitive enum names), but records malformed values as failures naming the key so that the
/// validators report them at startup together with out-of-range values.
/// </summary>
internal readonly struct ConfigurationReader
{
    private readonly IConfiguration _section;
    private readonly string _sectionName;
    private readonly List<string> _failures;

    public ConfigurationReader(IConfiguration configuration, string sectionName, List<string> failures)
    {
        _section = configuration.GetSection(sectionName);
        _sectionName = sectionName;
        _failures = failures;
    }

    public TimeSpan TimeSpan(string key, TimeSpan current)
    {
        var raw = _section[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return current;
        }
        if (System.TimeSpan.TryParse(raw.Trim(), CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }
        _failures.Add($"{_sectionName}:{key} must be a time span such as 00:30:00 (got '{raw}')");
        return current;
    }

    public int Int32(string key, int current)
    {
        var raw = _section[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return current;
        }
        if (int.TryParse(raw.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }
        _failures.Add($"{_sectionName}:{key} must be an integer (got '{raw}')");
        return current;
    }

    public TEnum Enum<TEnum>(string key, TEnum current) where TEnum : struct, Enum
    {
        var raw = _section[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return current;
        }
        var trimmed = raw.Trim();
        // Names only: a number would bypass the documented set of values.
        if (!char.IsAsciiDigit(trimmed[0]) && trimmed[0] != '-' && System.Enum.TryParse<TEnum>(trimmed, ignoreCase: true, out var value) && System.Enum.IsDefined(value))
        {
            return value;
        }
        _failures.Add($"{_sectionName}:{key} must be one of {string.Join(", ", System.Enum.GetNames<TEnum>())} (got '{raw}')");
        return current;
    }
}
