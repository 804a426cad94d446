namespace OrleansApp;

/// <summary>The app's own grain, hosted beside the session grains.</summary>
public interface IGreeterGrain : IGrainWithStringKey
{
    Task<string> GreetAsync(string name);
}

public sealed class GreeterGrain : Grain, IGreeterGrain
{
    public Task<string> GreetAsync(string name) => Task.FromResult($"hello {name} from {this.GetPrimaryKeyString()}");
}
