namespace OrleansSessions.Invocation;

/// <summary>How a grain method is invoked.</summary>
[Flags]
public enum InvokeFlags
{
    /// <summary>A normal request: queued behind other turns, the caller waits for the response.</summary>
    None = 0,
    /// <summary>The caller does not wait; no response is sent.</summary>
    OneWay = 1,
    /// <summary>Runs even while another turn of the activation is awaiting.</summary>
    AlwaysInterleave = 2,
}
