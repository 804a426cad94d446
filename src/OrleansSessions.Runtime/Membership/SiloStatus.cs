namespace OrleansSessions.Runtime.Membership;

/// <summary>The membership status of a silo.</summary>
public enum SiloStatus
{
    /// <summary>Starting; not yet hosting grains.</summary>
    Joining = 1,
    /// <summary>Hosting grains and reminders.</summary>
    Active = 2,
    /// <summary>Leaving gracefully; no new placements.</summary>
    ShuttingDown = 3,
    /// <summary>Stopped or declared dead; never comes back with this generation.</summary>
    Dead = 4,
}
