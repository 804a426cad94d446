namespace OrleansSessions.Runtime.Catalog;

/// <summary>Something that takes part in an activation's lifecycle (for example, persistent state read before OnActivateAsync).</summary>
internal interface IActivationParticipant
{
    Task OnActivateAsync(CancellationToken cancellationToken);
}
