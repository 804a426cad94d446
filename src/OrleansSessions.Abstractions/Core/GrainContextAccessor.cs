namespace OrleansSessions;

/// <summary>Lets the runtime hand the activation context to a grain's parameterless base constructor.</summary>
public static class GrainContextAccessor
{
    [ThreadStatic]
    private static IGrainContext? t_constructing;

    /// <summary>The context of the activation whose grain is being constructed on this thread.</summary>
    public static IGrainContext? Constructing
    {
        get => t_constructing;
        set => t_constructing = value;
    }
}
