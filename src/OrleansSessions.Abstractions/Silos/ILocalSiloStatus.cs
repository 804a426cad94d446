namespace OrleansSessions.Silos;

/// <summary>
/// The status of the silo this process hosts, for readiness checks; registered by <c>AddOrleansSessions</c> on a silo,
/// absent on an app that is only an Orleans client.
/// </summary>
public interface ILocalSiloStatus
{
    /// <summary>This silo's address.</summary>
    SiloAddress SiloAddress { get; }

    /// <summary>This silo's status in the cluster (Active once it serves).</summary>
    SiloStatus CurrentStatus { get; }
}
