using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Orleans.Dashboard;
using Orleans.Diagnostics;
using OrleansSessions.AspNetCore.Api;
using OrleansSessions.Grains.Diagnostics;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>
/// What a silo shows of itself: Orleans' dashboard at /orleans, OpenTelemetry metrics (the "Microsoft.Orleans" and
/// "OrleansSessions" meters, ASP.NET Core, the .NET runtime, and Npgsql on PostgreSQL) scraped by Prometheus at
/// /metrics, and, when OpenTelemetry:Endpoint is set, metrics, traces (Orleans' activity sources with activity
/// propagation through grain calls, ASP.NET Core, Npgsql) and logs exported over OTLP.
/// </summary>
internal static class Observability
{
    /// <summary>Orleans' meter.</summary>
    public const string OrleansMeterName = "Microsoft.Orleans";

    /// <summary>Adds Orleans' dashboard to the silo and, when traces are exported, activity propagation.</summary>
    public static ISiloBuilder AddSessionObservability(this ISiloBuilder silo, OpenTelemetrySettings telemetry, IConfiguration configuration)
    {
        if (telemetry.OrleansDashboard)
        {
            silo.AddDashboard();
        }
        // Orleans:EnableDistributedTracing=true adds the same filters through Orleans' own configuration: not twice.
        if (telemetry.Endpoint is not null && !configuration.GetValue<bool>("Orleans:EnableDistributedTracing"))
        {
            silo.AddActivityPropagation();
        }
        return silo;
    }

    /// <summary>Adds the OpenTelemetry SDK: metrics for /metrics always; the OTLP exporter and tracing when OpenTelemetry:Endpoint is set.</summary>
    public static WebApplicationBuilder AddSessionObservability(this WebApplicationBuilder builder, SiloSettings settings, OpenTelemetrySettings telemetry)
    {
        builder.Services.AddSingleton(sp => new ObservabilityAccess(sp.GetRequiredService<ApiTokenCheck>(), sp.GetRequiredService<IOptions<SecurityOptions>>(), TimeProvider.System));
        builder.Services.AddSingleton<IApiTokenCredential>(sp => sp.GetRequiredService<ObservabilityAccess>());
        builder.Services.AddSingleton(telemetry);
        var postgres = settings.StorageProvider == "postgres";
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource
                .AddService("OrleansSessions", serviceInstanceId: $"{settings.AdvertisedAddress}:{settings.SiloPort}")
                .AddAttributes([new("orleans.cluster_id", settings.ClusterId), new("orleans.service_id", SiloSettings.ServiceId)]))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(OrleansMeterName, SessionMetrics.MeterName)
                    .AddAspNetCoreInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddPrometheusExporter();
                if (postgres)
                {
                    metrics.AddNpgsqlInstrumentation();
                }
            });
        if (telemetry.Endpoint is { } endpoint)
        {
            otel.WithTracing(tracing =>
            {
                tracing.SetSampler(new SessionTraceSampler())
                    .AddSource(ActivitySources.AllActivitySourceName)
                    // Scrapes, probes and Orleans' dashboard polling are not worth a trace each.
                    .AddAspNetCoreInstrumentation(o => o.Filter = context => !IsQuiet(context.Request.Path));
                if (postgres)
                {
                    tracing.AddNpgsql();
                }
            });
            // One exporter for every signal; with http/protobuf it appends /v1/traces, /v1/metrics and /v1/logs.
            otel.UseOtlpExporter(telemetry.Protocol, endpoint);
        }
        return builder;
    }

    /// <summary>Maps Orleans' dashboard at /orleans and the Prometheus scrape endpoint at /metrics, both behind Security:ApiToken.</summary>
    public static WebApplication MapSessionObservability(this WebApplication app)
    {
        if (app.Services.GetRequiredService<OpenTelemetrySettings>().OrleansDashboard)
        {
            app.MapOrleansDashboard(routePrefix: ObservabilityAccess.DashboardPath).ExcludeFromDescription()
                .RequireAuthorization(ApiTokenAuthenticationDefaults.PolicyName);
        }
        app.MapPrometheusScrapingEndpoint(ObservabilityAccess.MetricsPath).RequireAuthorization(ApiTokenAuthenticationDefaults.PolicyName);
        return app;
    }

    private static bool IsQuiet(PathString path)
        => path.StartsWithSegments(ObservabilityAccess.MetricsPath, StringComparison.OrdinalIgnoreCase)
            || path.StartsWithSegments(ObservabilityAccess.DashboardPath, StringComparison.OrdinalIgnoreCase)
            || path.StartsWithSegments("/healthz", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// OpenTelemetry:Endpoint (OTLP; empty = no export), OpenTelemetry:Protocol (grpc | http/protobuf) and
/// Observability:OrleansDashboard (true | false).
/// </summary>
internal sealed class OpenTelemetrySettings
{
    /// <summary>Whether Orleans' dashboard runs on the silo (it profiles every incoming grain call) and is served at /orleans.</summary>
    public bool OrleansDashboard { get; init; } = true;

    /// <summary>The OTLP collector, or null: nothing is exported (the /metrics endpoint works either way).</summary>
    public Uri? Endpoint { get; init; }

    public OtlpExportProtocol Protocol { get; init; } = OtlpExportProtocol.Grpc;

    /// <summary>Reads and checks the keys; throws <see cref="SiloConfigurationException"/> naming a bad one.</summary>
    public static OpenTelemetrySettings Read(IConfiguration configuration)
    {
        var endpointText = configuration["OpenTelemetry:Endpoint"];
        var protocolText = configuration["OpenTelemetry:Protocol"];
        Uri? endpoint = null;
        if (!string.IsNullOrWhiteSpace(endpointText))
        {
            if (!Uri.TryCreate(endpointText.Trim(), UriKind.Absolute, out endpoint) || endpoint.Scheme is not ("http" or "https"))
            {
                throw new SiloConfigurationException($"OpenTelemetry:Endpoint must be an http:// or https:// URL such as http://127.0.0.1:4317 (got '{endpointText}').");
            }
        }
        var protocol = protocolText?.Trim().ToLowerInvariant() switch
        {
            null or "" or "grpc" => OtlpExportProtocol.Grpc,
            "http/protobuf" => OtlpExportProtocol.HttpProtobuf,
            _ => throw new SiloConfigurationException($"OpenTelemetry:Protocol must be grpc or http/protobuf (got '{protocolText}')."),
        };
        var dashboardText = configuration["Observability:OrleansDashboard"];
        var dashboard = true;
        if (!string.IsNullOrWhiteSpace(dashboardText) && !bool.TryParse(dashboardText.Trim(), out dashboard))
        {
            throw new SiloConfigurationException($"Observability:OrleansDashboard must be true or false (got '{dashboardText}').");
        }
        return new OpenTelemetrySettings { Endpoint = endpoint, Protocol = protocol, OrleansDashboard = dashboard };
    }
}
