namespace OrleansSessions.Redis;

/// <summary>
/// Redis could not be reached at silo start. The message is one line naming the endpoints and the configuration key,
/// never the password: "Redis at host:port is unreachable (Storage:ConnectionString): ...".
/// </summary>
public sealed class RedisUnavailableException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public RedisUnavailableException() : base("Redis is unreachable (Storage:ConnectionString).") { }

    /// <summary>Creates the exception with a message.</summary>
    public RedisUnavailableException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the connection error.</summary>
    public RedisUnavailableException(string message, Exception innerException) : base(message, innerException) { }

    internal static RedisUnavailableException For(string endpoints, Exception exception)
        => new($"Redis at {endpoints} is unreachable (Storage:ConnectionString): {RedisEndpoint.OneLine(exception.Message)}", exception);
}
