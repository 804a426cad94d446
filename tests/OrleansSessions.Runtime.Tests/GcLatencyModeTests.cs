using System.Runtime;
using Microsoft.Extensions.Options;
using OrleansSessions.Runtime.Hosting;
using OrleansSessions.TestingHost;

namespace OrleansSessions.Runtime.Tests;

[CollectionDefinition(nameof(ProcessGcSettings), DisableParallelization = true)]
public sealed class ProcessGcSettings;

/// <summary>Silo:GcLatencyMode is process-wide, so these run alone.</summary>
[Collection(nameof(ProcessGcSettings))]
public sealed class GcLatencyModeTests
{
    [Fact]
    public async Task A_starting_silo_sets_the_configured_latency_mode_and_sustained_low_latency_by_default()
    {
        var before = GCSettings.LatencyMode;
        try
        {
            GCSettings.LatencyMode = GCLatencyMode.Interactive;
            await using (var cluster = await new TestClusterBuilder(1).BuildAndStartAsync())
            {
                Assert.Equal(GCLatencyMode.SustainedLowLatency, GCSettings.LatencyMode);
            }
            await using (var cluster = await new TestClusterBuilder(1).AddConfiguration("Silo:GcLatencyMode", "Batch").BuildAndStartAsync())
            {
                Assert.Equal(GCLatencyMode.Batch, GCSettings.LatencyMode);
            }
        }
        finally
        {
            GCSettings.LatencyMode = before;
        }
    }

    [Theory]
    [InlineData(GCLatencyMode.LowLatency)]
    [InlineData(GCLatencyMode.NoGCRegion)]
    public void Modes_a_silo_cannot_run_in_are_rejected_naming_the_key(GCLatencyMode mode)
    {
        var validator = new SiloOptionsValidator(Options.Create(new SecurityOptions()));
        var result = validator.Validate(null, new SiloOptions { GcLatencyMode = mode });
        Assert.True(result.Failed);
        Assert.Contains("Silo:GcLatencyMode", result.FailureMessage, StringComparison.Ordinal);
    }
}
