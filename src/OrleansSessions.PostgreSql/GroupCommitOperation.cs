namespace OrleansSessions.PostgreSql;

/// <summary>
/// One operation of a <see cref="GroupCommitQueue{TKey, TOperation}"/>: completed after the commit of the group that
/// took it, or failed with that group's exception.
/// </summary>
/// <typeparam name="TKey">The row the operation touches; a group holds at most one operation per row.</typeparam>
internal abstract class GroupCommitOperation<TKey>() : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    where TKey : notnull
{
    /// <summary>The row the operation touches.</summary>
    public abstract TKey Row { get; }

    /// <summary>The index in the group (the statements' ord column).</summary>
    internal int Ord { get; set; }
}
