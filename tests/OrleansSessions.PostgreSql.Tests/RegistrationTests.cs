using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Hosting;
using OrleansSessions.Runtime.Membership;
using OrleansSessions.Runtime.Reminders;
using OrleansSessions.Storage;

namespace OrleansSessions.PostgreSql.Tests;

public sealed class RegistrationTests
{
    private sealed class TestSiloBuilder(Dictionary<string, string?>? settings = null) : ISiloBuilder
    {
        public IServiceCollection Services { get; } = new ServiceCollection();

        public IConfiguration Configuration { get; } = new ConfigurationBuilder().AddInMemoryCollection(settings ?? []).Build();
    }

    private sealed class InMemoryStorage : IGrainStorage
    {
        public Task<GrainStateRecord> ReadAsync(string stateName, GrainId grainId, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<string> WriteAsync(string stateName, GrainId grainId, byte[] data, string? expectedETag, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task ClearAsync(string stateName, GrainId grainId, string? expectedETag, CancellationToken cancellationToken) => throw new NotSupportedException();
    }

    private const string ConnectionString = "Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=orleanssessions_test";

    [Fact]
    public void UsePostgreSql_replaces_defaults_registered_before_it()
    {
        var builder = new TestSiloBuilder();
        builder.Services.AddSingleton<IGrainStorage, InMemoryStorage>();
        builder.UsePostgreSql(ConnectionString, "reg");
        using var provider = builder.Services.BuildServiceProvider();
        Assert.IsType<PostgreSqlGrainStorage>(provider.GetRequiredService<IGrainStorage>());
        Assert.Single(provider.GetServices<IGrainStorage>());
    }

    [Fact]
    public void UsePostgreSql_wins_over_defaults_the_runtime_adds_later_with_TryAdd()
    {
        var builder = new TestSiloBuilder();
        builder.UsePostgreSql(ConnectionString, "reg");
        builder.Services.TryAddSingleton<IGrainStorage, InMemoryStorage>();
        using var provider = builder.Services.BuildServiceProvider();
        Assert.IsType<PostgreSqlGrainStorage>(provider.GetRequiredService<IGrainStorage>());
    }

    [Fact]
    public void All_providers_share_one_pool_and_the_cluster_id()
    {
        var builder = new TestSiloBuilder();
        builder.UsePostgreSql(ConnectionString, "cluster-x");
        using var provider = builder.Services.BuildServiceProvider();
        Assert.IsType<PostgreSqlMembershipTable>(provider.GetRequiredService<IMembershipTable>());
        Assert.IsType<PostgreSqlReminderTable>(provider.GetRequiredService<IReminderTable>());
        Assert.IsType<PostgreSqlSessionDeadlineIndex>(provider.GetRequiredService<ISessionDeadlineIndex>());
        Assert.Same(provider.GetRequiredService<PostgreSqlGrainStorage>(), provider.GetRequiredService<IGrainStorage>());
        Assert.Equal("cluster-x", provider.GetRequiredService<PostgreSqlDatabase>().Options.ClusterId);
    }

    [Fact]
    public void The_deadline_index_wins_whether_AddSessionGrains_runs_before_or_after()
    {
        var before = new TestSiloBuilder();
        before.AddSessionGrains();
        before.UsePostgreSql(ConnectionString, "reg");
        using (var provider = before.Services.BuildServiceProvider())
        {
            Assert.IsType<PostgreSqlSessionDeadlineIndex>(provider.GetRequiredService<ISessionDeadlineIndex>());
        }

        var after = new TestSiloBuilder();
        after.UsePostgreSql(ConnectionString, "reg");
        after.AddSessionGrains();
        using (var provider = after.Services.BuildServiceProvider())
        {
            Assert.IsType<PostgreSqlSessionDeadlineIndex>(provider.GetRequiredService<ISessionDeadlineIndex>());
        }
    }

    [Fact]
    public void Calling_UsePostgreSql_twice_keeps_one_registration_per_service()
    {
        var builder = new TestSiloBuilder();
        builder.UsePostgreSql(ConnectionString, "first");
        builder.UsePostgreSql(ConnectionString, "second");
        using var provider = builder.Services.BuildServiceProvider();
        Assert.Single(provider.GetServices<IMembershipTable>());
        Assert.Equal("second", provider.GetRequiredService<PostgreSqlDatabase>().Options.ClusterId);
    }

    [Fact]
    public void UsePostgreSql_without_arguments_reads_Storage_and_Cluster_keys_from_configuration()
    {
        var builder = new TestSiloBuilder(new() { ["Storage:ConnectionString"] = ConnectionString, ["Cluster:ClusterId"] = "from-config" });
        builder.UsePostgreSql();
        using var provider = builder.Services.BuildServiceProvider();
        var options = provider.GetRequiredService<PostgreSqlDatabase>().Options;
        Assert.Equal("from-config", options.ClusterId);
        Assert.Equal(ConnectionString, options.ConnectionString);

        var missing = Assert.Throws<ArgumentException>(() => new TestSiloBuilder().UsePostgreSql());
        Assert.Contains("Storage:ConnectionString", missing.Message);
    }

    [Fact]
    public void Empty_connection_string_fails_at_registration()
    {
        var ex = Assert.Throws<ArgumentException>(() => new TestSiloBuilder().UsePostgreSql("", "c"));
        Assert.Contains("Storage:ConnectionString", ex.Message);
    }
}
