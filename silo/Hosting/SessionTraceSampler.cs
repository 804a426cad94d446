using OpenTelemetry.Trace;

namespace OrleansSessions.SiloHost.Hosting;

/// <summary>
/// Samples every span whose parent was sampled, and starts traces only at work worth a trace: an HTTP request, a call
/// to a session grain (ISessionGrain, IUserSessionsGrain, IJanitorGrain and their internal interfaces, from a client
/// or a grain timer) and a reminder tick. Orleans' own background calls (stream queue polling many times a second,
/// membership and reminder table reads, the dashboards' statistics) would otherwise each start a trace of their own.
/// </summary>
internal sealed class SessionTraceSampler : Sampler
{
    private const string HttpRequestActivity = "Microsoft.AspNetCore.Hosting.HttpRequestIn";

    // Orleans names a grain call's activity "<interface name>/<method name>".
    private static readonly string[] RootCalls = ["ISessionGrain/", "IUserSessionsGrain/", "IJanitorGrain/", "ISessionLifecycleGrain/", "IUserSessionsRecorder/", "IRemindable/"];

    private readonly Sampler _parentBased = new ParentBasedSampler(new RootSampler());

    public SessionTraceSampler() => Description = nameof(SessionTraceSampler);

    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) => _parentBased.ShouldSample(samplingParameters);

    private sealed class RootSampler : Sampler
    {
        private static readonly SamplingResult Sampled = new(SamplingDecision.RecordAndSample);
        private static readonly SamplingResult Dropped = new(SamplingDecision.Drop);

        public override SamplingResult ShouldSample(in SamplingParameters samplingParameters)
        {
            var name = samplingParameters.Name;
            if (string.Equals(name, HttpRequestActivity, StringComparison.Ordinal))
            {
                return Sampled;
            }
            foreach (var prefix in RootCalls)
            {
                if (name.StartsWith(prefix, StringComparison.Ordinal))
                {
                    return Sampled;
                }
            }
            return Dropped;
        }
    }
}
