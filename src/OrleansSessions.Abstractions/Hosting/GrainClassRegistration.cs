namespace OrleansSessions.Hosting;

/// <summary>Maps a grain interface to the class that implements it; registered as a singleton service.</summary>
/// <param name="InterfaceType">The grain interface.</param>
/// <param name="GrainClass">The implementation, a subclass of <see cref="Grain"/>.</param>
public sealed record GrainClassRegistration(Type InterfaceType, Type GrainClass);
