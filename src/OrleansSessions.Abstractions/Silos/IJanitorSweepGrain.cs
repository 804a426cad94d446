namespace OrleansSessions.Silos;

/// <summary>Sweeps every janitor partition at once (POST /api/janitor/run); key 0, served on any silo.</summary>
[Alias("OrleansSessions.Silos.IJanitorSweepGrain")]
public interface IJanitorSweepGrain : IGrainWithIntegerKey
{
    /// <summary>Sweeps every partition now (Janitor:Partitions); returns how many sessions were expired in all.</summary>
    [Alias("SweepAll")]
    Task<int> SweepAllAsync();
}
