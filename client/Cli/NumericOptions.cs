using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace OrleansSessions.ClientApp.Cli;

/// <summary>
/// Numeric options that parse and range-check their value themselves, so that a value like "abc" or "-1" is one
/// parse error (exit 2, one line on stderr), never an exception out of a validator.
/// </summary>
internal static class NumericOptions
{
    public static Option<int> Int(string name, string? alias, string description, int defaultValue, Func<int, bool> inRange, string rangeError)
    {
        var option = alias is null ? new Option<int>(name) : new Option<int>(name, alias);
        option.Description = description;
        option.DefaultValueFactory = _ => defaultValue;
        option.CustomParser = result => Parse(result, name, defaultValue, "a whole number", inRange, rangeError,
            (string text, out int value) => int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value));
        return option;
    }

    /// <summary>An int option without a default: null when not given.</summary>
    public static Option<int?> OptionalInt(string name, string? alias, string description, Func<int, bool> inRange, string rangeError)
    {
        var option = alias is null ? new Option<int?>(name) : new Option<int?>(name, alias);
        option.Description = description;
        option.CustomParser = result => result.Tokens.Count == 0 ? null : Parse(result, name, 0, "a whole number", inRange, rangeError,
            (string text, out int value) => int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value));
        return option;
    }

    /// <summary>A long option without a default: null when not given.</summary>
    public static Option<long?> OptionalLong(string name, string? alias, string description, Func<long, bool> inRange, string rangeError)
    {
        var option = alias is null ? new Option<long?>(name) : new Option<long?>(name, alias);
        option.Description = description;
        option.CustomParser = result => result.Tokens.Count == 0 ? null : Parse(result, name, 0L, "a whole number", inRange, rangeError,
            (string text, out long value) => long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value));
        return option;
    }

    public static Option<double> Double(string name, string? alias, string description, double defaultValue, Func<double, bool> inRange, string rangeError)
    {
        var option = alias is null ? new Option<double>(name) : new Option<double>(name, alias);
        option.Description = description;
        option.DefaultValueFactory = _ => defaultValue;
        option.CustomParser = result => Parse(result, name, defaultValue, "a number", inRange, rangeError,
            (string text, out double value) => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value));
        return option;
    }

    private delegate bool TryParse<T>(string text, out T value);

    private static T Parse<T>(ArgumentResult result, string name, T defaultValue, string kind, Func<T, bool> inRange, string rangeError, TryParse<T> tryParse)
    {
        if (result.Tokens.Count == 0)
        {
            return defaultValue;
        }
        var text = result.Tokens[^1].Value;
        if (!tryParse(text, out var value))
        {
            result.AddError($"{name} must be {kind}, not '{text}'.");
            return defaultValue;
        }
        if (!inRange(value))
        {
            result.AddError(rangeError);
            return defaultValue;
        }
        return value;
    }
}
