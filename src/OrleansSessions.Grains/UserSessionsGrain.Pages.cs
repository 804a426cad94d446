using Orleans.Runtime;
using Orleans.Storage;
using OrleansSessions.Grains.Diagnostics;
using OrleansSessions.Grains.Options;
using OrleansSessions.Sessions;

namespace OrleansSessions.Grains;

/// <summary>The user grain's live list on storage: the header's tail, sealed pages and the in-memory index of where each live id is.</summary>
internal sealed partial class UserSessionsGrain
{
    /// <summary>Builds the index of live ids from the header and its pages (a page listed but not stored is empty).</summary>
    private async Task LoadLiveAsync()
    {
        _live.Clear();
        _pages.Clear();
        var state = _state.State;
        foreach (var page in state.Pages.ToArray())
        {
            await LoadPageAsync(page);
        }
        foreach (var id in state.ActiveSessionIds)
        {
            _live.Add(id, LiveSessionList.Tail);
        }
    }

    private async Task LoadPageAsync(int page)
    {
        var record = new GrainState<UserSessionsPage>(new UserSessionsPage());
        await _services.GrainStorage.ReadStateAsync(SessionStorage.UserPageStateName, UserSessionsPage.GrainIdOf(UserId, page), record);
        record.State ??= new UserSessionsPage();
        if (!record.RecordExists || record.State.Ids.Count == 0)
        {
            // Emptied and cleared after the header listing it was written.
            _state.State.Pages.Remove(page);
            return;
        }
        var slot = new PageSlot(record);
        _pages[page] = slot;
        foreach (var id in record.State.Ids)
        {
            if (!_live.Add(id, page))
            {
                // Listed twice (a merge of two activations' seals): keep it in one place.
                slot.Removed.Add(id);
                slot.Dirty = true;
            }
        }
        if (slot.Dirty)
        {
            record.State.Ids.RemoveAll(slot.Removed.Contains);
        }
    }

    /// <summary>
    /// Seals a full tail into a new page record before the header grows past <see cref="LiveSessionList.TailLimit"/>
    /// (a record of the old layout, all ids in the tail, becomes pages here). The page is written before the header
    /// that lists it: cut off between the two, the ids are still in the stored tail and the page is an orphan the next
    /// seal (same number) overwrites.
    /// </summary>
    private async Task SealTailAsync()
    {
        var state = _state.State;
        for (var attempt = 1; state.ActiveSessionIds.Count >= LiveSessionList.TailLimit; attempt++)
        {
            var page = state.NextPage;
            var grainId = UserSessionsPage.GrainIdOf(UserId, page);
            var record = new GrainState<UserSessionsPage>(new UserSessionsPage());
            await _services.GrainStorage.ReadStateAsync(SessionStorage.UserPageStateName, grainId, record);
            record.State = new UserSessionsPage { Ids = state.ActiveSessionIds.GetRange(0, LiveSessionList.TailLimit) };
            try
            {
                await _services.GrainStorage.WriteStateAsync(SessionStorage.UserPageStateName, grainId, record);
            }
            catch (InconsistentStateException) when (attempt < MergeAttempts)
            {
                // Another activation sealed under this number meanwhile: take the next.
                state.NextPage = page + 1;
                continue;
            }
            state.NextPage = page + 1;
            state.Pages.Add(page);
            state.ActiveSessionIds.RemoveRange(0, LiveSessionList.TailLimit);
            _pages[page] = new PageSlot(record);
            foreach (var id in record.State.Ids)
            {
                _live.Move(id, page);
            }
        }
    }

    /// <summary>Removes a live id from the tail or its page (marked to be written). Returns true when it was listed.</summary>
    private bool DropLive(string sessionId)
    {
        switch (_live.Remove(sessionId))
        {
            case null:
                return _state.State.ActiveSessionIds.Remove(sessionId);
            case LiveSessionList.Tail:
                _state.State.ActiveSessionIds.Remove(sessionId);
                return true;
            case var page when _pages.TryGetValue(page.Value, out var slot):
                slot.Ids.Remove(sessionId);
                slot.Removed.Add(sessionId);
                slot.Dirty = true;
                return true;
            default:
                return true;
        }
    }

    /// <summary>Writes the pages that lost ids; an emptied page's record is deleted and its number leaves the header.</summary>
    private async Task WritePagesAsync()
    {
        List<int>? dirty = null;
        foreach (var (page, slot) in _pages)
        {
            if (slot.Dirty)
            {
                (dirty ??= []).Add(page);
            }
        }
        if (dirty is null)
        {
            return;
        }
        foreach (var page in dirty)
        {
            var slot = _pages[page];
            var grainId = UserSessionsPage.GrainIdOf(UserId, page);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    if (slot.Ids.Count == 0)
                    {
                        await _services.GrainStorage.ClearStateAsync(SessionStorage.UserPageStateName, grainId, slot.Record);
                        _pages.Remove(page);
                        // The stored header still lists it until its next write; a listed page that is gone reads as empty.
                        _state.State.Pages.Remove(page);
                    }
                    else
                    {
                        await _services.GrainStorage.WriteStateAsync(SessionStorage.UserPageStateName, grainId, slot.Record);
                    }
                    break;
                }
                catch (InconsistentStateException) when (attempt < MergeAttempts)
                {
                    // Written by another activation: its removals and ours both stand.
                    var stored = new GrainState<UserSessionsPage>(new UserSessionsPage());
                    await _services.GrainStorage.ReadStateAsync(SessionStorage.UserPageStateName, grainId, stored);
                    var ids = stored.State?.Ids ?? [];
                    ids.RemoveAll(slot.Removed.Contains);
                    foreach (var id in ids)
                    {
                        if (_live.PageOf(id) is null)
                        {
                            _live.Add(id, page);
                        }
                    }
                    slot.Record.State = new UserSessionsPage { Ids = ids };
                    slot.Record.ETag = stored.ETag;
                    slot.Record.RecordExists = stored.RecordExists;
                }
            }
            slot.Removed.Clear();
            slot.Dirty = false;
        }
    }

    private async Task ClearPageRecordAsync(int page)
    {
        var grainId = UserSessionsPage.GrainIdOf(UserId, page);
        var record = new GrainState<UserSessionsPage>(new UserSessionsPage());
        await _services.GrainStorage.ReadStateAsync(SessionStorage.UserPageStateName, grainId, record);
        if (record.RecordExists)
        {
            await _services.GrainStorage.ClearStateAsync(SessionStorage.UserPageStateName, grainId, record);
        }
    }

    /// <summary>A loaded page record: its ids and ETag, and the ids removed since it was last written.</summary>
    private sealed class PageSlot(GrainState<UserSessionsPage> record)
    {
        public GrainState<UserSessionsPage> Record { get; } = record;

        public List<string> Ids => (Record.State ??= new UserSessionsPage()).Ids;

        public HashSet<string> Removed { get; } = new(StringComparer.Ordinal);

        public bool Dirty { get; set; }
    }
}
