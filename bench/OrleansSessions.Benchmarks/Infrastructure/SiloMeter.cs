using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using OrleansSessions.Grains.Diagnostics;

namespace OrleansSessions.Benchmarks.Infrastructure;

/// <summary>
/// Listens to named instruments of one in-process silo's "OrleansSessions" meter (the meter its
/// <see cref="IMeterFactory"/> created, so an earlier silo of the same process is not counted): the sums of counters
/// and the values of histograms, each histogram by the value of its tag "point" when it has one (e.g.
/// "sessions.janitor_lag{point=warning}"). An instrument the silo does not have is simply never seen
/// (<see cref="Seen"/>).
/// </summary>
internal sealed class SiloMeter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Lock _gate = new();
    private readonly HashSet<string> _seen = [];
    private readonly Dictionary<string, long> _counters = [];
    private readonly Dictionary<string, LatencyHistogram> _histograms = [];

    public SiloMeter(IServiceProvider siloServices, params string[] instruments)
    {
        var factory = siloServices.GetRequiredService<IMeterFactory>();
        var names = new HashSet<string>(instruments, StringComparer.Ordinal);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == SessionMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, factory) && names.Contains(instrument.Name))
            {
                lock (_gate)
                {
                    _seen.Add(instrument.Name);
                }
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>True when the silo has an instrument of that name (and it was listened to).</summary>
    public bool Seen(string instrument)
    {
        lock (_gate)
        {
            return _seen.Contains(instrument);
        }
    }

    /// <summary>The sum of a counter's measurements since the start or the last <see cref="Reset"/>.</summary>
    public long Counter(string instrument)
    {
        lock (_gate)
        {
            return _counters.GetValueOrDefault(instrument);
        }
    }

    /// <summary>
    /// A copy of a histogram's values (milliseconds recorded, held as nanoseconds) since the start or the last
    /// <see cref="Reset"/>; <paramref name="point"/> selects the measurements with that "point" tag.
    /// </summary>
    public LatencyHistogram Histogram(string instrument, string? point = null)
    {
        var copy = new LatencyHistogram();
        lock (_gate)
        {
            if (_histograms.TryGetValue(Key(instrument, point), out var histogram))
            {
                copy.Add(histogram);
            }
        }
        return copy;
    }

    public void Reset()
    {
        lock (_gate)
        {
            _counters.Clear();
            _histograms.Clear();
        }
    }

    public void Dispose() => _listener.Dispose();

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (instrument is Histogram<double> or Histogram<long> or Histogram<int>)
        {
            string? point = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "point")
                {
                    point = tag.Value?.ToString();
                }
            }
            lock (_gate)
            {
                Record(Key(instrument.Name, null), value);
                if (point is not null)
                {
                    Record(Key(instrument.Name, point), value);
                }
            }
            return;
        }
        lock (_gate)
        {
            _counters[instrument.Name] = _counters.GetValueOrDefault(instrument.Name) + (long)value;
        }
    }

    private void Record(string key, double milliseconds)
    {
        if (!_histograms.TryGetValue(key, out var histogram))
        {
            _histograms[key] = histogram = new LatencyHistogram();
        }
        histogram.Record((long)(milliseconds * 1e6));
    }

    private static string Key(string instrument, string? point) => point is null ? instrument : instrument + "{point=" + point + "}";
}
