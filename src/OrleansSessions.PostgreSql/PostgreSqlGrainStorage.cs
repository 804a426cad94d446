using System.Globalization;
using System.Runtime.InteropServices;
using Npgsql;
using Orleans.Storage;

namespace OrleansSessions.PostgreSql;

/// <summary>
/// Orleans grain storage on the <c>orleanssessions_state</c> table (<see cref="PostgreSqlSchema.StateTable"/>) whose
/// reads, writes and clears join a group commit (<see cref="GroupCommitQueue{TKey, TOperation}"/> running
/// <see cref="PostgreSqlStateExecutor"/>): every operation pending at that moment runs in one transaction, so a durable
/// write costs a share of one commit instead of one commit.
/// </summary>
/// <remarks>
/// The ETag is the row's version, as with Orleans' ADO.NET storage: a write with a null ETag inserts and conflicts
/// when a row exists; a write or clear with an ETag applies only if the stored version still equals it; a conflict
/// throws <see cref="InconsistentStateException"/> for that operation alone, while the others of its group succeed.
/// A clear deletes the row. A write is acknowledged only after its group's commit returned; a failed transaction
/// fails every operation of its group, a failure of PostgreSQL (<see cref="PostgreSqlStorageFailure"/>) as
/// <see cref="OrleansSessions.Sessions.SessionStorageUnavailableException"/> (a state read while a grain activates runs
/// outside any grain call filter, and its failure goes to the caller as it is). State is serialized with the configured
/// <see cref="IGrainStorageSerializer"/> (<see cref="PostgreSqlGrainStorageOptions.GrainStorageSerializer"/>).
/// </remarks>
internal sealed class PostgreSqlGrainStorage : IGrainStorage, IAsyncDisposable
{
    private readonly string _name;
    private readonly string _serviceId;
    private readonly IGrainStorageSerializer _serializer;

    public PostgreSqlGrainStorage(string name, NpgsqlDataSource dataSource, string serviceId, PostgreSqlGrainStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceId);
        _name = name;
        _serviceId = serviceId;
        _serializer = options.GrainStorageSerializer
            ?? throw new InvalidOperationException($"The grain storage '{name}' has no GrainStorageSerializer.");
        GroupCommit = new(new PostgreSqlStateExecutor(dataSource, serviceId).CommitAsync, options.MaxGroupSize, options.MaxGroupsInFlight);
    }

    /// <summary>The group commit every operation goes through.</summary>
    internal GroupCommitQueue<(string StateName, string GrainId), StateOperation> GroupCommit { get; }

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var operation = new StateOperation(StateOperationKind.Read, stateName, grainId.ToString(), null, null);
        await RunAsync(operation).ConfigureAwait(false);
        if (operation.Version is { } version && operation.StoredPayload is { } payload)
        {
            grainState.State = _serializer.Deserialize<T>(new BinaryData(payload)) ?? Activator.CreateInstance<T>();
            grainState.ETag = version.ToString(CultureInfo.InvariantCulture);
            grainState.RecordExists = true;
        }
        else
        {
            grainState.State = Activator.CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
        }
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var serialized = _serializer.Serialize(grainState.State).ToMemory();
        var payload = MemoryMarshal.TryGetArray(serialized, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : serialized.ToArray();
        var id = grainId.ToString();
        var operation = new StateOperation(StateOperationKind.Write, stateName, id, payload, ParseETag(grainState.ETag));
        await RunAsync(operation).ConfigureAwait(false);
        if (operation.Version is not { } version)
        {
            throw Conflict("WriteState", stateName, id, grainState.ETag);
        }
        grainState.ETag = version.ToString(CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (!grainState.RecordExists && string.IsNullOrWhiteSpace(grainState.ETag))
        {
            // As Orleans' ADO.NET storage: a state never read or written learns first whether there is a row.
            await ReadStateAsync(stateName, grainId, grainState).ConfigureAwait(false);
            if (!grainState.RecordExists)
            {
                return;
            }
        }
        var id = grainId.ToString();
        var operation = new StateOperation(StateOperationKind.Delete, stateName, id, null, ParseETag(grainState.ETag));
        await RunAsync(operation).ConfigureAwait(false);
        if (operation.Version is null)
        {
            throw Conflict("ClearState", stateName, id, grainState.ETag);
        }
        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
    }

    public ValueTask DisposeAsync() => GroupCommit.DisposeAsync();

    private async Task RunAsync(StateOperation operation)
    {
        try
        {
            await GroupCommit.RunAsync(operation).ConfigureAwait(false);
        }
        catch (Exception exception) when (PostgreSqlStorageFailure.Translate(exception) is { } unavailable)
        {
            throw unavailable;
        }
    }

    private static int? ParseETag(string? etag)
        => string.IsNullOrWhiteSpace(etag) ? null : int.Parse(etag, NumberStyles.None, CultureInfo.InvariantCulture);

    // The message of Orleans' ADO.NET storage, so that logs read the same whichever provider wrote them.
    private InconsistentStateException Conflict(string operation, string stateName, string grainId, string? etag)
        => new($"Version conflict ({operation}): ServiceId={_serviceId} ProviderName={_name} GrainType={stateName} GrainId={grainId} ETag={etag}.");
}
