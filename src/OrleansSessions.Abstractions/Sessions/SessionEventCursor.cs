using System.Globalization;
using System.Text;

namespace OrleansSessions.Sessions;

/// <summary>
/// The format of event log cursors: "v1:" and the position read through in each partition of the log, partition 0
/// first, dot-separated (e.g. <c>v1:12.0.7.3</c>). Callers treat cursors as opaque; this is for the code that reads the
/// log and for a resuming reader that must tell which of two events came later in one partition.
/// </summary>
public static class SessionEventCursor
{
    private const string Prefix = "v1:";

    /// <summary>What a cursor is, as error messages say it.</summary>
    public const string Rule = "A cursor is \"0\" (everything retained) or one sent with an event (\"v1:\" and a position per partition).";

    /// <summary>The cursor of <paramref name="positions"/>.</summary>
    public static string Format(IReadOnlyList<long> positions)
    {
        ArgumentNullException.ThrowIfNull(positions);
        var builder = new StringBuilder(Prefix, Prefix.Length + positions.Count * 4);
        for (var p = 0; p < positions.Count; p++)
        {
            if (p > 0)
            {
                builder.Append('.');
            }
            builder.Append(positions[p].ToString(CultureInfo.InvariantCulture));
        }
        return builder.ToString();
    }

    /// <summary>The positions of <paramref name="cursor"/>; false when it is not a well-formed cursor (or "0").</summary>
    public static bool TryParse(string? cursor, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out long[]? positions)
    {
        positions = null;
        if (cursor is null || !cursor.StartsWith(Prefix, StringComparison.Ordinal) || cursor.Length > Prefix.Length + 20 * 4096)
        {
            return false;
        }
        var parts = cursor[Prefix.Length..].Split('.');
        var parsed = new long[parts.Length];
        for (var p = 0; p < parts.Length; p++)
        {
            if (!long.TryParse(parts[p], NumberStyles.None, CultureInfo.InvariantCulture, out parsed[p]))
            {
                return false;
            }
        }
        positions = parsed;
        return true;
    }
}
