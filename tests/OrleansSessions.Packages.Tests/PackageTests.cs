using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace OrleansSessions.Packages.Tests;

/// <summary>
/// The packages work alone: scripts/pack.sh packs them into a folder of their own, and examples/orleans-app (an
/// ASP.NET Core app with a silo, outside the solution, that references only Microsoft.Orleans.Server and the packages, from that
/// folder) hosts its own grain beside the session grains, creates, touches and closes a session through a client, and
/// serves the HTTP API and dashboard under /sessions (OrleansSessions.AspNetCore).
/// </summary>
public sealed partial class PackageTests : IDisposable
{
    private static readonly string[] Packages =
        ["OrleansSessions.Abstractions", "OrleansSessions", "OrleansSessions.Client", "OrleansSessions.AspNetCore", "OrleansSessions.PostgreSql", "OrleansSessions.Redis"];

    private readonly string _work = Directory.CreateTempSubdirectory("orleanssessions-packages-").FullName;

    // A version of its own, so that no package cached by an earlier run can stand in for these.
    private readonly string _version = $"1.0.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";

    [Fact]
    public async Task The_packed_packages_run_sessions_in_an_app_of_their_own()
    {
        var packages = Path.Combine(_work, "packages");
        var pack = await RunAsync("bash", [Path.Combine(Repo.Root, "scripts", "pack.sh"), packages], Repo.Root, TimeSpan.FromMinutes(6), new() { ["VERSION"] = _version });
        Assert.True(pack.ExitCode == 0, pack.Output);
        foreach (var id in Packages)
        {
            AssertPackage(Path.Combine(packages, $"{id}.{_version}.nupkg"), id);
            Assert.True(File.Exists(Path.Combine(packages, $"{id}.{_version}.snupkg")), $"no symbols package for {id}");
        }

        var app = Path.Combine(_work, "app");
        CopyDirectory(Path.Combine(Repo.Root, "examples", "orleans-app"), app);
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="orleanssessions-test" value="{packages}" />
              </packageSources>
            </configuration>
            """);
        string[] ports = [Ports.Free().ToString(CultureInfo.InvariantCulture), Ports.Free().ToString(CultureInfo.InvariantCulture), Ports.Free().ToString(CultureInfo.InvariantCulture)];
        var run = await RunAsync("dotnet", ["run", $"-p:OrleansSessionsVersion={_version}", "--", .. ports], app, TimeSpan.FromMinutes(6));
        Assert.True(run.ExitCode == 0, run.Output);

        // The restore took the packages from the test's folder, at the test's version.
        var assets = File.ReadAllText(Path.Combine(app, "obj", "project.assets.json"));
        Assert.Contains($"\"OrleansSessions/{_version}\"", assets, StringComparison.Ordinal);
        Assert.Contains($"\"OrleansSessions.Client/{_version}\"", assets, StringComparison.Ordinal);
        Assert.Contains($"\"OrleansSessions.AspNetCore/{_version}\"", assets, StringComparison.Ordinal);

        Assert.Contains("hello alice from app", run.Output, StringComparison.Ordinal);
        var created = CreatedLine().Match(run.Output);
        Assert.True(created.Success, run.Output);
        var sessionId = created.Groups[1].Value;
        Assert.Contains($"touched {sessionId}: active=True", run.Output, StringComparison.Ordinal);
        Assert.Contains($"closed {sessionId}: status=Closed, reason=Logout", run.Output, StringComparison.Ordinal);
        Assert.Contains("history of alice: 1 ended session(s)", run.Output, StringComparison.Ordinal);
        Assert.Contains($"event Created for {sessionId}", run.Output, StringComparison.Ordinal);

        // MapOrleansSessionsApi("/sessions") on the app: the HTTP API and the dashboard under the prefix.
        Assert.Matches(@"HTTP POST /sessions/api/sessions: 201 \{""sessionId"":""sess_[0-9a-f-]{36}"",""userId"":""bob""", run.Output);
        Assert.Contains($"HTTP GET /sessions/api/users/alice/history: [{{\"sessionId\":\"{sessionId}\"", run.Output, StringComparison.Ordinal);
        Assert.Contains("HTTP GET /sessions/: dashboard served under /sessions/", run.Output, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        // The work folder, and this run's versions in the NuGet cache (no later restore asks for them).
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var folders = Packages.Select(id => Path.Combine(cache, id.ToLowerInvariant(), _version)).Append(_work);
        foreach (var folder in folders)
        {
            try
            {
                if (Directory.Exists(folder))
                {
                    Directory.Delete(folder, recursive: true);
                }
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>The package's id and version, its README, license, description, repository, and the XML docs beside its assembly.</summary>
    private void AssertPackage(string path, string id)
    {
        Assert.True(File.Exists(path), $"{path} was not packed");
        using var zip = ZipFile.OpenRead(path);
        var names = zip.Entries.Select(e => e.FullName).ToList();
        Assert.Contains("README.md", names);
        Assert.Contains("LICENSE", names);
        Assert.Contains(names, n => n.StartsWith("lib/net10.0/", StringComparison.Ordinal) && n.EndsWith(".xml", StringComparison.Ordinal));
        using var reader = new StreamReader(zip.GetEntry($"{id}.nuspec")!.Open());
        var nuspec = reader.ReadToEnd();
        Assert.Contains($"<id>{id}</id>", nuspec, StringComparison.Ordinal);
        Assert.Contains($"<version>{_version}</version>", nuspec, StringComparison.Ordinal);
        Assert.Contains("<license type=\"expression\">MIT</license>", nuspec, StringComparison.Ordinal);
        Assert.Contains("<readme>README.md</readme>", nuspec, StringComparison.Ordinal);
        Assert.Contains("<repository type=\"git\"", nuspec, StringComparison.Ordinal);
        Assert.Matches("<description>.{20,}</description>", nuspec);
        if (id == "OrleansSessions.AspNetCore")
        {
            // The HTTP package depends downward only: on the abstractions and the client, never on the silo side.
            Assert.Contains("<dependency id=\"OrleansSessions.Client\"", nuspec, StringComparison.Ordinal);
            Assert.DoesNotContain("<dependency id=\"OrleansSessions\"", nuspec, StringComparison.Ordinal);
            Assert.DoesNotContain("<dependency id=\"Microsoft.Orleans.Runtime\"", nuspec, StringComparison.Ordinal);
            Assert.DoesNotContain("<dependency id=\"Microsoft.Orleans.Server\"", nuspec, StringComparison.Ordinal);
        }
    }

    [GeneratedRegex(@"created (sess_[0-9a-f-]{36}) for alice")]
    private static partial Regex CreatedLine();

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string fileName, string[] arguments, string directory, TimeSpan timeout, Dictionary<string, string>? environment = null)
    {
        var (exitCode, stdout, stderr) = await ChildProcess.RunAsync(fileName, arguments, timeout, environment, directory);
        return (exitCode, $"{stdout}\n{stderr}");
    }
}
