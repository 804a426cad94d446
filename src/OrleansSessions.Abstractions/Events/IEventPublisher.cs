namespace OrleansSessions.Events;

/// <summary>Publishes events to every subscriber of a topic in the cluster (at most once per subscriber, in publish order per publisher).</summary>
public interface IEventPublisher
{
    /// <summary>Publishes <paramref name="evt"/> on <paramref name="topic"/>. Completes once handed to the local hub; delivery is asynchronous.</summary>
    void Publish<TEvent>(string topic, TEvent evt);
}
