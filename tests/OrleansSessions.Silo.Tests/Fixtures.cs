namespace OrleansSessions.Silo.Tests;

/// <summary>One silo process on the in-memory default with default session options.</summary>
public sealed class DefaultSiloFixture : IAsyncLifetime
{
    internal SiloProcess Silo { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Silo = await SiloProcess.StartAsync();
        Http = Silo.Http();
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Silo.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class DefaultSiloCollection : ICollectionFixture<DefaultSiloFixture>
{
    public const string Name = "default silo";
}

/// <summary>
/// One silo process with short real timeouts: Sessions:IdleTimeout 2 s, Sessions:WarningBefore 1 s, and
/// Sessions:MaxPerUser=1 with OverLimit=Reject.
/// </summary>
public sealed class ShortTimeoutSiloFixture : IAsyncLifetime
{
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(2);

    internal SiloProcess Silo { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Silo = await SiloProcess.StartAsync("--Sessions:IdleTimeout=00:00:02", "--Sessions:WarningBefore=00:00:01", "--Sessions:MaxPerUser=1", "--Sessions:OverLimit=Reject");
        Http = Silo.Http();
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Silo.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ShortTimeoutSiloCollection : ICollectionFixture<ShortTimeoutSiloFixture>
{
    public const string Name = "short timeouts";
}

/// <summary>The local PostgreSQL server of the tests (127.0.0.1:5432, postgres/postgres, database orleanssessions_test).</summary>
internal static class TestPostgres
{
    public const string ConnectionString = "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=orleanssessions_test;Maximum Pool Size=20";

    /// <summary>Settings of a silo on PostgreSQL in a cluster of its own (a unique Cluster:ClusterId per run).</summary>
    public static string[] Settings(string clusterId, params string[] more)
        => ["--Storage:Provider=postgres", $"--Storage:ConnectionString={ConnectionString}", $"--Cluster:ClusterId={clusterId}", .. more];

    public static string NewClusterId(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];
}

/// <summary>
/// Two silo processes on PostgreSQL forming one cluster (membership, reminders, grain state and stream pub-sub in
/// the database); Sessions:MaxPerUser=1 with EvictOldest, so a second session of a user evicts the first.
/// </summary>
public sealed class PostgresClusterFixture : IAsyncLifetime
{
    internal SiloProcess First { get; private set; } = null!;

    internal SiloProcess Second { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var clusterId = TestPostgres.NewClusterId("silo-tests");
        string[] settings = TestPostgres.Settings(clusterId, "--Sessions:MaxPerUser=1", "--Sessions:OverLimit=EvictOldest");
        First = await SiloProcess.StartAsync(settings);
        Second = await SiloProcess.StartAsync(settings);
    }

    public async Task DisposeAsync()
    {
        if (Second is not null)
        {
            await Second.DisposeAsync();
        }
        if (First is not null)
        {
            await First.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresClusterCollection : ICollectionFixture<PostgresClusterFixture>
{
    public const string Name = "two silos on postgres";
}
