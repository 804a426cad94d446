using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using OrleansSessions.Sessions;

namespace OrleansSessions.AspNetCore.Api;

/// <summary>
/// The JSON of the HTTP API and its events: <see cref="SessionJson"/>'s conventions, except that dictionary keys are
/// written as they are. Labels and attributes are keyed by the caller's own case-sensitive names ("Device" and
/// "device" are two labels), which a naming policy would rewrite.
/// </summary>
internal static class ApiJson
{
    /// <summary>Read-only serializer options with the API's conventions (for the event stream, which writes outside the HTTP pipeline).</summary>
    public static JsonSerializerOptions Options { get; } = Create();

    /// <summary>Applies the API's conventions to <paramref name="options"/> (the app's HTTP JSON options).</summary>
    public static void Configure(JsonSerializerOptions options)
    {
        SessionJson.Configure(options);
        options.DictionaryKeyPolicy = null;
    }

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
        Configure(options);
        options.MakeReadOnly();
        return options;
    }
}
