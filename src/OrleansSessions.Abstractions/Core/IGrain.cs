namespace OrleansSessions;

/// <summary>Marker for every grain interface. A grain is a virtual actor addressed by interface and key.</summary>
public interface IGrain;

/// <summary>A grain addressed by a string key, obtained with <see cref="IGrainFactory.GetGrain{TGrainInterface}(string)"/>.</summary>
public interface IGrainWithStringKey : IGrain;
