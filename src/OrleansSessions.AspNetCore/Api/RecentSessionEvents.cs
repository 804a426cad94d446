using OrleansSessions.Sessions;

namespace OrleansSessions.AspNetCore.Api;

/// <summary>
/// The last <see cref="Capacity"/> session events of the cluster as this silo received them from the events stream
/// (every silo receives them all), for GET /api/events/recent: the dashboard lists them when it opens.
/// </summary>
internal sealed class RecentSessionEvents
{
    /// <summary>The events kept.</summary>
    public const int Capacity = 200;

    private readonly Lock _lock = new();
    private readonly SessionEvent[] _ring = new SessionEvent[Capacity];
    private int _next;
    private int _count;

    public void Add(SessionEvent item)
    {
        lock (_lock)
        {
            _ring[_next] = item;
            _next = (_next + 1) % Capacity;
            _count = Math.Min(_count + 1, Capacity);
        }
    }

    /// <summary>Up to <paramref name="limit"/> of the latest events, of <paramref name="userId"/> only when given, newest first.</summary>
    public List<SessionEvent> Latest(int limit, string? userId)
    {
        var latest = new List<SessionEvent>(Math.Min(limit, Capacity));
        lock (_lock)
        {
            for (var i = 1; i <= _count && latest.Count < limit; i++)
            {
                var item = _ring[(_next - i + Capacity) % Capacity];
                if (userId is null || string.Equals(item.Session.UserId, userId, StringComparison.Ordinal))
                {
                    latest.Add(item);
                }
            }
        }
        return latest;
    }
}
