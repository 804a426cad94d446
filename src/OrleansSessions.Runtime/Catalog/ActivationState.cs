namespace OrleansSessions.Runtime.Catalog;

/// <summary>The lifecycle of an activation.</summary>
internal enum ActivationState
{
    Creating,
    Activating,
    Valid,
    Deactivating,
    Invalid,
}
