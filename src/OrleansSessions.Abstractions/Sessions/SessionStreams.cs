namespace OrleansSessions.Sessions;

/// <summary>Where session events are published: one Orleans stream that every silo and client can subscribe to.</summary>
public static class SessionStreams
{
    /// <summary>The name of the stream provider the session grains publish on (registered by AddOrleansSessions on silos, and by the client wiring).</summary>
    public const string ProviderName = "OrleansSessions";

    /// <summary>The stream namespace of session events.</summary>
    public const string Namespace = "sessions";

    /// <summary>The key of the stream that carries every <see cref="SessionEvent"/>, in order per session.</summary>
    public const string EventsKey = "events";
}
