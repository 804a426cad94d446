namespace OrleansSessions.Reminders;

/// <summary>A grain that receives durable reminder ticks.</summary>
public interface IRemindable : IGrain
{
    /// <summary>Runs as a turn of the (re)activated grain when a reminder is due.</summary>
    Task ReceiveReminder(string reminderName, TickStatus status);
}
