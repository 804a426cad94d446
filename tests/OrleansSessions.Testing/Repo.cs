namespace OrleansSessions.Testing;

/// <summary>Paths of the repository and its build outputs, found from the test assembly's folder.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    /// <summary>Debug or Release, as this test assembly was built.</summary>
    public static string Configuration { get; } = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    /// <summary>The built silo host.</summary>
    public static string SiloDll => Path.Combine(Root, "silo", "bin", Configuration, "net10.0", "OrleansSessions.Silo.dll");

    /// <summary>The built client app.</summary>
    public static string ClientDll => Path.Combine(Root, "client", "bin", Configuration, "net10.0", "OrleansSessions.ClientApp.dll");

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "OrleansSessions.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("OrleansSessions.sln not found above " + AppContext.BaseDirectory);
    }
}
