namespace OrleansSessions.Runtime.Membership;

/// <summary>The whole membership table at one version.</summary>
public sealed record MembershipTableSnapshot(IReadOnlyList<MembershipEntry> Entries, long Version);
