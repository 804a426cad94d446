using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansSessions.Grains.Options;
using OrleansSessions.Grains.Storage;
using OrleansSessions.Hosting;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains.Tests;

public sealed class OptionsTests
{
    [Fact]
    public void Defaults_match_the_documented_configuration()
    {
        var (sessions, janitor) = Bind([]);
        Assert.Equal(TimeSpan.FromMinutes(30), sessions.IdleTimeout);
        Assert.Equal(TimeSpan.FromHours(8), sessions.AbsoluteTimeout);
        Assert.Equal(TimeSpan.FromMinutes(2), sessions.WarningBefore);
        Assert.Equal(0, sessions.MaxPerUser);
        Assert.Equal(OverLimitPolicy.EvictOldest, sessions.OverLimit);
        Assert.Equal(100, sessions.HistoryLimit);
        Assert.Equal(TimeSpan.FromDays(30), sessions.HistoryRetention);
        Assert.True(sessions.PersistTouches);
        Assert.Equal(TimeSpan.FromMinutes(5), janitor.Period);
        Assert.Equal(8, janitor.Partitions);
        Assert.Equal(1000, janitor.BatchSize);
    }

    [Fact]
    public void Configuration_values_are_bound()
    {
        var (sessions, janitor) = Bind(new()
        {
            ["Sessions:IdleTimeout"] = "00:20:00",
            ["Sessions:AbsoluteTimeout"] = "12:00:00",
            ["Sessions:WarningBefore"] = "00:01:00",
            ["Sessions:MaxPerUser"] = "3",
            ["Sessions:OverLimit"] = "reject",
            ["Sessions:HistoryLimit"] = "10",
            ["Sessions:HistoryRetention"] = "7.00:00:00",
            ["Sessions:PersistTouches"] = "false",
            ["Janitor:Period"] = "00:01:00",
            ["Janitor:Partitions"] = "16",
            ["Janitor:BatchSize"] = "500",
        });
        Assert.Equal(TimeSpan.FromMinutes(20), sessions.IdleTimeout);
        Assert.Equal(TimeSpan.FromHours(12), sessions.AbsoluteTimeout);
        Assert.Equal(TimeSpan.FromMinutes(1), sessions.WarningBefore);
        Assert.Equal(3, sessions.MaxPerUser);
        Assert.Equal(OverLimitPolicy.Reject, sessions.OverLimit);
        Assert.Equal(10, sessions.HistoryLimit);
        Assert.Equal(TimeSpan.FromDays(7), sessions.HistoryRetention);
        Assert.False(sessions.PersistTouches);
        Assert.Equal(TimeSpan.FromMinutes(1), janitor.Period);
        Assert.Equal(16, janitor.Partitions);
        Assert.Equal(500, janitor.BatchSize);
    }

    [Theory]
    [InlineData("Sessions:IdleTimeout", "00:00:00", "Sessions:IdleTimeout must be > 0")]
    [InlineData("Sessions:IdleTimeout", "-00:01:00", "Sessions:IdleTimeout must be > 0")]
    [InlineData("Sessions:IdleTimeout", "soon", "Sessions:IdleTimeout")]
    [InlineData("Sessions:AbsoluteTimeout", "00:00:00", "Sessions:AbsoluteTimeout must be > 0")]
    [InlineData("Sessions:WarningBefore", "-00:00:01", "Sessions:WarningBefore must be >= 0")]
    [InlineData("Sessions:MaxPerUser", "-1", "Sessions:MaxPerUser must be >= 0")]
    [InlineData("Sessions:MaxPerUser", "many", "Sessions:MaxPerUser")]
    [InlineData("Sessions:OverLimit", "Drop", "Sessions:OverLimit")]
    [InlineData("Sessions:OverLimit", "7", "Sessions:OverLimit")]
    [InlineData("Sessions:HistoryLimit", "0", "Sessions:HistoryLimit must be >= 1")]
    [InlineData("Sessions:HistoryRetention", "00:00:30", "Sessions:HistoryRetention must be 0 (keep) or >= 00:01:00")]
    [InlineData("Sessions:HistoryRetention", "-1.00:00:00", "Sessions:HistoryRetention must be 0 (keep) or >= 00:01:00")]
    [InlineData("Sessions:IdleTimeout", "50.00:00:00", "Sessions:IdleTimeout must be <= 49.17:02:47.2940000")]
    [InlineData("Sessions:AbsoluteTimeout", "49.17:02:47.2950000", "Sessions:AbsoluteTimeout must be <= 49.17:02:47.2940000")]
    [InlineData("Sessions:HistoryRetention", "60.00:00:00", "Sessions:HistoryRetention must be <= 49.17:02:47.2940000")]
    public void Invalid_session_options_fail_with_a_message_naming_the_key(string key, string value, string expected)
    {
        var services = BuildServices(new() { [key] = value });
        // Out-of-range values fail validation; malformed ones fail binding; both name the key.
        var exception = Assert.ThrowsAny<Exception>(() => services.GetRequiredService<IOptions<SessionOptions>>().Value);
        Assert.True(exception is OptionsValidationException or InvalidOperationException, exception.ToString());
        Assert.Contains(expected, exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Janitor:Period", "00:00:00", "Janitor:Period must be > 0")]
    [InlineData("Janitor:Partitions", "0", "Janitor:Partitions must be between 1 and")]
    [InlineData("Janitor:BatchSize", "0", "Janitor:BatchSize must be > 0")]
    [InlineData("Janitor:Partitions", "eight", "Janitor:Partitions")]
    [InlineData("Janitor:Period", "50.00:00:00", "Janitor:Period must be <= 49.17:02:47.2940000")]
    public void Invalid_janitor_options_fail_with_a_message_naming_the_key(string key, string value, string expected)
    {
        var services = BuildServices(new() { [key] = value });
        var exception = Assert.ThrowsAny<Exception>(() => services.GetRequiredService<IOptions<JanitorOptions>>().Value);
        Assert.True(exception is OptionsValidationException or InvalidOperationException, exception.ToString());
        Assert.Contains(expected, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Durations_up_to_the_longest_timer_Orleans_can_set_are_accepted()
    {
        // 0xFFFFFFFE ms: the longest due time or period of a .NET timer, an Orleans grain timer or a reminder.
        const string Longest = "49.17:02:47.2940000";
        var (sessions, janitor) = Bind(new()
        {
            ["Sessions:IdleTimeout"] = Longest,
            ["Sessions:AbsoluteTimeout"] = Longest,
            ["Sessions:HistoryRetention"] = Longest,
            ["Janitor:Period"] = Longest,
        });
        Assert.Equal(TimeSpan.FromMilliseconds(0xFFFFFFFE), sessions.IdleTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(0xFFFFFFFE), janitor.Period);
    }

    [Fact]
    public void A_janitor_period_below_the_minimum_reminder_period_lowers_it()
    {
        var services = BuildServices(new() { ["Janitor:Period"] = "00:00:02" });
        Assert.Equal(TimeSpan.FromSeconds(2), services.GetRequiredService<IOptions<Orleans.Hosting.ReminderOptions>>().Value.MinimumReminderPeriod);
        var defaults = BuildServices([]);
        Assert.Equal(TimeSpan.FromMinutes(1), defaults.GetRequiredService<IOptions<Orleans.Hosting.ReminderOptions>>().Value.MinimumReminderPeriod);
    }

    [Fact]
    public void Storage_failures_are_unavailable_storage_or_types_of_a_registered_driver_anywhere_in_the_chain()
    {
        var options = new SessionStorageFailureOptions();
        options.DriverNamespacePrefixes.Add("System.Net.Sockets.");
        var socket = new System.Net.Sockets.SocketException();
        Assert.Same(socket, options.FindFailure(new InvalidOperationException("wrapped", socket)));
        Assert.Null(options.FindFailure(new InvalidOperationException("not storage", new ArgumentException("x"))));
        Assert.Null(new SessionStorageFailureOptions().FindFailure(socket));
        // What a grain storage reported, wrapped by Orleans' storage bridge.
        var unavailable = new SessionStorageUnavailableException("down");
        Assert.Same(unavailable, new SessionStorageFailureOptions().FindFailure(new OrleansException("bridge", unavailable)));
    }

    [Fact]
    public void Invalid_options_fail_at_start()
    {
        var services = BuildServices(new() { ["Sessions:IdleTimeout"] = "00:00:00" });
        var exception = Assert.ThrowsAny<Exception>(() => services.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains("Sessions:IdleTimeout must be > 0", exception.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Validator_reports_every_failure()
    {
        var result = new SessionOptionsValidator().Validate(null, new SessionOptions { IdleTimeout = TimeSpan.Zero, HistoryLimit = 0 });
        Assert.True(result.Failed);
        Assert.Contains("Sessions:IdleTimeout must be > 0", result.Failures!);
        Assert.Contains("Sessions:HistoryLimit must be >= 1", result.Failures!);
    }

    [Fact]
    public void A_deadline_index_registered_by_a_provider_replaces_the_in_memory_default()
    {
        var custom = new InMemorySessionDeadlineIndex();
        var builder = new FakeSiloBuilder([]);
        builder.Services.AddSingleton<ISessionDeadlineIndex>(custom);
        builder.AddOrleansSessions();
        var registrations = builder.Services.Count;
        builder.AddOrleansSessions(); // idempotent
        Assert.Equal(registrations, builder.Services.Count);
        using var provider = builder.Services.BuildServiceProvider();
        Assert.Same(custom, provider.GetRequiredService<ISessionDeadlineIndex>());
    }

    private static (SessionOptions Sessions, JanitorOptions Janitor) Bind(Dictionary<string, string?> values)
    {
        var services = BuildServices(values);
        return (services.GetRequiredService<IOptions<SessionOptions>>().Value, services.GetRequiredService<IOptions<JanitorOptions>>().Value);
    }

    [Fact]
    public void Options_set_in_code_win_over_the_configuration_sections_and_are_validated()
    {
        var builder = new FakeSiloBuilder(new() { ["Sessions:IdleTimeout"] = "00:20:00", ["Sessions:MaxPerUser"] = "3" });
        builder.AddOrleansSessions(s => s.IdleTimeout = TimeSpan.FromMinutes(5), j => j.Partitions = 16);
        using var services = builder.Services.BuildServiceProvider();
        var sessions = services.GetRequiredService<IOptions<SessionOptions>>().Value;
        Assert.Equal(TimeSpan.FromMinutes(5), sessions.IdleTimeout);
        Assert.Equal(3, sessions.MaxPerUser);
        Assert.Equal(16, services.GetRequiredService<IOptions<JanitorOptions>>().Value.Partitions);

        var invalid = new FakeSiloBuilder([]);
        invalid.AddOrleansSessions(s => s.HistoryLimit = 0);
        using var invalidServices = invalid.Services.BuildServiceProvider();
        var exception = Assert.Throws<OptionsValidationException>(() => invalidServices.GetRequiredService<IOptions<SessionOptions>>().Value);
        Assert.Contains("Sessions:HistoryLimit must be >= 1", exception.Message, StringComparison.Ordinal);
    }

    private static ServiceProvider BuildServices(Dictionary<string, string?> values)
    {
        var builder = new FakeSiloBuilder(values);
        builder.AddOrleansSessions();
        return builder.Services.BuildServiceProvider();
    }

    private sealed class FakeSiloBuilder : ISiloBuilder
    {
        public FakeSiloBuilder(Dictionary<string, string?> values)
        {
            Configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
            Services.AddSingleton(Configuration);
        }

        public IServiceCollection Services { get; } = new ServiceCollection();

        public IConfiguration Configuration { get; }
    }
}
