using Microsoft.Extensions.Hosting;
using OrleansSessions.Hosting;

namespace OrleansSessions.Redis.Tests;

/// <summary>UseOrleansSessionsRedis validates its connection string at once and fails a start on an unreachable server.</summary>
public sealed class RegistrationTests
{
    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("this is not a connection string")]
    [InlineData("127.0.0.1:6380,noSuchKeyword=1")]
    [InlineData("password=x")]
    public void The_connection_string_is_validated_at_registration_naming_the_key(string connectionString)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        ArgumentException? caught = null;
        builder.UseOrleans(silo => caught = Assert.ThrowsAny<ArgumentException>(() => silo.UseOrleansSessionsRedis(connectionString)));
        Assert.NotNull(caught);
        Assert.Contains("Storage:ConnectionString", caught.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_silo_whose_redis_is_unreachable_fails_to_start_naming_it_in_one_line_without_the_password()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.UseOrleans(silo => silo
            .UseOrleansSessionsRedis("127.0.0.1:1,password=s3cr3t-pw,connectTimeout=2000")
            .AddOrleansSessions());
        using var host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(timeout.Token));
        var unavailable = Assert.IsType<RedisUnavailableException>(ex);
        Assert.StartsWith("Redis at 127.0.0.1:1 is unreachable (Storage:ConnectionString): ", unavailable.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', unavailable.Message);
        Assert.DoesNotContain("s3cr3t-pw", unavailable.Message, StringComparison.Ordinal);
    }
}
