using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace OrleansSessions.Testing;

/// <summary>
/// The one bounded wait of the tests and the bench: polls a condition until it holds or a deadline passes, then throws
/// <see cref="TimeoutException"/> naming what was awaited. Its poll interval is the only sleep.
/// </summary>
/// <remarks>
/// An exception from the condition counts as "not yet" (a server still starting) and is reported with the timeout,
/// except an assertion failure (xunit's) or an <see cref="InvalidOperationException"/> (e.g. a process that exited):
/// waiting longer cannot change those, so they end the wait at once.
/// </remarks>
public static class Wait
{
    /// <summary>How long a wait lasts when its caller gives no timeout.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan DefaultPoll = TimeSpan.FromMilliseconds(50);

    /// <summary>Polls <paramref name="condition"/> every <paramref name="poll"/> (50 ms) for <paramref name="timeout"/> (30 s).</summary>
    public static Task UntilAsync(Func<bool> condition, TimeSpan? timeout = null, [CallerArgumentExpression(nameof(condition))] string what = "", TimeSpan? poll = null)
        => UntilAsync(() => Task.FromResult(condition()), timeout ?? DefaultTimeout, () => what, poll);

    /// <summary>Polls <paramref name="condition"/> every <paramref name="poll"/> (50 ms) for <paramref name="timeout"/> (30 s).</summary>
    public static Task UntilAsync(Func<Task<bool>> condition, TimeSpan? timeout = null, [CallerArgumentExpression(nameof(condition))] string what = "", TimeSpan? poll = null)
        => UntilAsync(condition, timeout ?? DefaultTimeout, () => what, poll);

    /// <summary>As the others, with a description computed when the wait fails (e.g. the processes' latest output).</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> what, TimeSpan? poll = null)
    {
        var clock = Stopwatch.StartNew();
        Exception? last = null;
        while (true)
        {
            try
            {
                if (await condition().ConfigureAwait(false))
                {
                    return;
                }
                last = null;
            }
            catch (Exception ex) when (!Ends(ex))
            {
                last = ex;
            }
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"Timed out after {timeout} waiting for: {what()}" + (last is null ? "" : $"\nlast error: {last.GetType().Name}: {last.Message}"), last);
            }
            await Task.Delay(poll ?? DefaultPoll).ConfigureAwait(false);
        }
    }

    private static bool Ends(Exception ex)
        => ex is InvalidOperationException || ex.GetType().FullName?.StartsWith("Xunit.", StringComparison.Ordinal) == true;
}
