namespace OrleansSessions;

/// <summary>Creates typed references to grains. References are cheap and never activate anything by themselves.</summary>
public interface IGrainFactory
{
    /// <summary>Returns a reference to the grain with the given key. Throws <see cref="ArgumentException"/> for a null key.</summary>
    TGrainInterface GetGrain<TGrainInterface>(string key) where TGrainInterface : IGrainWithStringKey;
}
