namespace OrleansSessions.AspNetCore.Api;

/// <summary>Settings of the HTTP API (<c>AddOrleansSessionsApi(o => ...)</c>).</summary>
public sealed class SessionApiOptions
{
    /// <summary>How often /api/events writes a comment line to keep idle connections open. Default 15 s.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Events queued per /api/events client; a client too slow to read that fills it is disconnected (it resumes after the last id it received: nothing is lost, the silo never grows). Default 4096.</summary>
    public int EventBufferSize { get; set; } = 4096;

    /// <summary>How long GET /api/cluster waits for each silo's figures. Default 1 s.</summary>
    public TimeSpan PeerTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The default of ?limit= for GET /api/users/{userId}/history. Default 100.</summary>
    public int DefaultHistoryLimit { get; set; } = 100;

    /// <summary>Open /api/events streams this silo serves at once (Sse:MaxSubscribers); beyond it 503 too_many_subscribers. Default 1000.</summary>
    public int MaxSubscribers { get; set; } = 1_000;

    /// <summary>
    /// Open /api/events streams one remote address may hold at once (Sse:MaxSubscribersPerAddress); beyond it 503
    /// too_many_subscribers. Behind a reverse proxy every caller has the proxy's address. Default 16.
    /// </summary>
    public int MaxSubscribersPerAddress { get; set; } = 16;

    /// <summary>
    /// How long one write of an /api/events stream may take (Sse:SendTimeout); a subscriber that stopped reading, whose
    /// connection's buffers filled up, is disconnected after it and its place freed. Default 30 s.
    /// </summary>
    public TimeSpan SendTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>This app's HTTP port, as GET /api/cluster reports it for this silo (so that a page can reach its peers). Default 0: not reported.</summary>
    public int HttpPort { get; set; }

    /// <summary>
    /// The largest body POST /api/sessions/{id}/messages and PATCH /api/sessions/{id}/attributes accept when the server's
    /// own limit (Kestrel's MaxRequestBodySize, the silo's Http:MaxRequestBodySize) is lower; a higher one applies as it
    /// is. Default 1 MiB: a message at the default Sessions:MaxConversationBytes (256 KiB of UTF-8) still fits when its
    /// JSON escapes every non-ASCII character as \uXXXX (at most 3 times its UTF-8 size), as encoders that write only
    /// ASCII do.
    /// </summary>
    public long MaxSessionDataBodySize { get; set; } = 1024 * 1024;

    /// <summary>Where the app serves Orleans' dashboard (e.g. "/orleans/"), linked from the session dashboard. Default null: no link.</summary>
    public string? OrleansDashboardPath { get; set; }
}
