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
/// Observability:OrleansDashboard (true | false), bound from <see cref="OpenTelemetryExportOptions"/> and
/// <see cref="ObservabilityOptions"/> and checked.
/// </summary>
internal sealed class OpenTelemetrySettings
{
    /// <summary>Whether Orleans' dashboard runs on the silo (it profiles every incoming grain call) and is served at /orleans.</summary>
    public bool OrleansDashboard { get; init; } = true;

    /// <summary>The OTLP collector, or null: nothing is exported (the /metrics endpoint works either way).</summary>
    public Uri? Endpoint { get; init; }

    public OtlpExportProtocol Protocol { get; init; } = OtlpExportProtocol.Grpc;

    /// <summary>
    /// Registers the options with their validator and ValidateOnStart, and returns them bound and checked now; throws
    /// <see cref="SiloConfigurationException"/> naming the bad key(s).
    /// </summary>
    public static OpenTelemetrySettings AddTo(IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        var settings = Read(configuration);
        var validator = new ObservabilityOptionsValidator(configuration);
        SiloOptionsBinding.Register<OpenTelemetryExportOptions>(services, OpenTelemetryExportOptions.SectionName, validator);
        SiloOptionsBinding.Register<ObservabilityOptions>(services, ObservabilityOptions.SectionName, validator);
        services.AddSingleton(settings);
        return settings;
    }

    /// <summary>Binds and checks the keys; throws <see cref="SiloConfigurationException"/> naming the bad key(s).</summary>
    public static OpenTelemetrySettings Read(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var validator = new ObservabilityOptionsValidator(configuration);
        var failures = new List<string>();
        var export = SiloOptionsBinding.Bind<OpenTelemetryExportOptions>(configuration, OpenTelemetryExportOptions.SectionName, validator, failures);
        var observability = SiloOptionsBinding.Bind<ObservabilityOptions>(configuration, ObservabilityOptions.SectionName, validator, failures);
        if (failures.Count > 0)
        {
            throw new SiloConfigurationException("Invalid configuration: " + string.Join("; ", failures));
        }
        export.TryGetEndpoint(out var endpoint);
        export.TryGetProtocol(out var protocol);
        return new OpenTelemetrySettings { Endpoint = endpoint, Protocol = protocol, OrleansDashboard = observability.OrleansDashboard };
    }
}

/// <summary>OpenTelemetry:Endpoint and OpenTelemetry:Protocol: the "OpenTelemetry" section.</summary>
internal sealed class OpenTelemetryExportOptions
{
    public const string SectionName = "OpenTelemetry";

    /// <summary>The OTLP collector, an http:// or https:// URL (4317 for gRPC, 4318 for HTTP).</summary>
    /// <value>Empty: nothing is exported.</value>
    public string Endpoint { get; set; } = "";

    /// <summary>grpc or http/protobuf, in any case.</summary>
    /// <value>grpc (blank is grpc).</value>
    public string Protocol { get; set; } = "grpc";

    /// <summary>The endpoint as a URL, or null when blank; false when it is not an http:// or https:// URL.</summary>
    public bool TryGetEndpoint(out Uri? endpoint)
    {
        endpoint = null;
        if (string.IsNullOrWhiteSpace(Endpoint))
        {
            return true;
        }
        if (Uri.TryCreate(Endpoint.Trim(), UriKind.Absolute, out var parsed) && parsed.Scheme is "http" or "https")
        {
            endpoint = parsed;
            return true;
        }
        return false;
    }

    /// <summary>The protocol; false when it is neither grpc nor http/protobuf.</summary>
    public bool TryGetProtocol(out OtlpExportProtocol protocol)
    {
        (var known, protocol) = Protocol.Trim().ToLowerInvariant() switch
        {
            "" or "grpc" => (true, OtlpExportProtocol.Grpc),
            "http/protobuf" => (true, OtlpExportProtocol.HttpProtobuf),
            _ => (false, OtlpExportProtocol.Grpc),
        };
        return known;
    }
}

/// <summary>Observability:OrleansDashboard: the "Observability" section.</summary>
internal sealed class ObservabilityOptions
{
    public const string SectionName = "Observability";

    /// <summary>false: no Orleans dashboard on this silo (it profiles every incoming grain call) and no /orleans route.</summary>
    /// <value>true.</value>
    public bool OrleansDashboard { get; set; } = true;
}

/// <summary>The checks of OpenTelemetry:* and Observability:*; each message names its key and quotes the configured text.</summary>
internal sealed class ObservabilityOptionsValidator(IConfiguration configuration)
    : IConfigurationKeyValidator<OpenTelemetryExportOptions>, IConfigurationKeyValidator<ObservabilityOptions>
{
    public ValidateOptionsResult Validate(string? name, OpenTelemetryExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (!options.TryGetEndpoint(out _))
        {
            failures.Add(DescribeInvalid("OpenTelemetry:Endpoint"));
        }
        if (!options.TryGetProtocol(out _))
        {
            failures.Add(DescribeInvalid("OpenTelemetry:Protocol"));
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    // A bool binds or fails to convert: nothing more to check.
    public ValidateOptionsResult Validate(string? name, ObservabilityOptions options) => ValidateOptionsResult.Success;

    /// <inheritdoc cref="IConfigurationKeyValidator{TOptions}.DescribeInvalid"/>
    public string DescribeInvalid(string key)
    {
        var text = configuration[key];
        if (string.Equals(key, "OpenTelemetry:Endpoint", StringComparison.OrdinalIgnoreCase))
        {
            return $"OpenTelemetry:Endpoint must be an http:// or https:// URL such as http://127.0.0.1:4317 (got '{text}')";
        }
        if (string.Equals(key, "OpenTelemetry:Protocol", StringComparison.OrdinalIgnoreCase))
        {
            return $"OpenTelemetry:Protocol must be grpc or http/protobuf (got '{text}')";
        }
        if (string.Equals(key, "Observability:OrleansDashboard", StringComparison.OrdinalIgnoreCase))
        {
            return $"Observability:OrleansDashboard must be true or false (got '{text}')";
        }
        return $"{key} has an invalid value (got '{text}')";
    }
}
