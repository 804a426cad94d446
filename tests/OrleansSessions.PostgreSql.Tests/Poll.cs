namespace OrleansSessions.PostgreSql.Tests;

/// <summary>Bounded waits: retry an operation until it succeeds or a deadline passes (never a bare sleep).</summary>
internal static class Poll
{
    public static async Task<T> UntilSucceedsAsync<T>(Func<Task<T>> operation, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        Exception? last = null;
        var delay = TimeSpan.FromMilliseconds(50);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                return await operation();
            }
            catch (Exception ex)
            {
                last = ex;
            }
            await Task.Delay(delay);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 500));
        }
        throw new TimeoutException($"{what} did not succeed within {timeout}; last error: {last?.Message}", last);
    }
}
